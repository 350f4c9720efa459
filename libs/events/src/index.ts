/** @mnsim/events: the event envelope, deterministic ids, canonical encoding and the log hash. */
export * from './types.js';
export * from './origin.js';
export * from './canonical.js';
export * from './log.js';
export * from './ids.js';
export * from './payloads.js';
export * from './payload-encoding.js';
export * from './canonical-writer.js';
export * from './run-id.js';
export * from './printable.js';
export * from './run-limits.js';
export * from './interned-log.js';
export * from './stored-log.js';
