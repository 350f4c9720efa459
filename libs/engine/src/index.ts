/** @mnsim/engine: the embedded engine (orchestrator loop over the in-process transport). */
export * from './simulate.js';
export * from './kernel-log.js';
export * from './record.js';
