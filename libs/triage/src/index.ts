/** @mnsim/triage: real kernel logs read, their splats titled and matched against the model. */
export * from './dmesg.js';
export * from './title.js';
export * from './reproduce.js';
export * from './triage.js';
export * from './observed.js';
