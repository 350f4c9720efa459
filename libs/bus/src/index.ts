/** @mnsim/bus: the transports. In-process (embedded) here; BullMQ on Redis for distributed runs. */
export * from './in-process.js';
