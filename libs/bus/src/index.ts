/** @mnsim/bus: the transports. In-process (embedded) here; BullMQ on Redis for distributed runs. */
export * from './event-builder.js';
export * from './in-process.js';
export * from './messages.js';
export * from './replay.js';
export * from './redis-bus.js';
export * from './dead-letters.js';
export * from './logger.js';
export * from './supervision.js';
export * from './run-state.js';
export * from './component-processor.js';
export * from './orchestrator-processor.js';
export * from './chain-watchdog.js';
export * from './auditor-processor.js';
export * from './client.js';
export * from './cluster-watch.js';
export * from './config.js';
export * from './nest.js';
