/**
 * @mnsim/runtime: what a run is made of, whatever carries it. The message protocol between the
 * orchestrator and the components (messages.ts), how a chain's events are built (event-builder.ts),
 * the in-process transport of the embedded engine (in-process.ts), and the re-execution of a
 * handler from its recorded replies that the distributed workers use (execute.ts). No Nest, no
 * BullMQ, no Redis: the transport (@mnsim/bus) carries these messages as jobs.
 */
export * from './messages.js';
export * from './event-builder.js';
export * from './chain.js';
export * from './orchestrator.js';
export * from './in-process.js';
export * from './execute.js';
export * from './wire-context.js';
