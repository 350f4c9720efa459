/**
 * @mnsim/config: what every process's configuration is made of. The shared variables with their
 * rules (env.ts), MNSIM_RUN_TIMEOUT (run-timeout.ts), and ConfigError, the one error of a value a
 * process cannot start with (exit status 2). Zod only: the embedded CLI reads it without loading
 * the cluster's transport.
 */
export * from './config-error.js';
export * from './env.js';
export * from './run-timeout.js';
