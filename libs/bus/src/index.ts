/**
 * @mnsim/bus: the distributed transport. The runtime's messages (@mnsim/runtime) as BullMQ jobs on
 * Redis: the queues, the run state, the processors the worker apps serve, the client.
 */
export * from './redis-bus.js';
export * from './dead-letters.js';
export * from './logger.js';
export * from './supervision.js';
export * from './run-state.js';
export * from './context-parts.js';
export * from './component-processor.js';
export * from './orchestrator-processor.js';
export * from './chain-watchdog.js';
export * from './stale-run-sweeper.js';
export * from './auditor-processor.js';
export * from './client.js';
export * from './cluster-watch.js';
export * from './topology.js';
export * from './config.js';
export * from './nest.js';
export * from './run-on-cluster.js';
export * from './worker-main.js';
