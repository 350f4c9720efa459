/**
 * @mnsim/http: the HTTP API as a Nest application (runs, events, violations, signatures, replay,
 * /health, /metrics) and, given a cluster, its orchestrator. `mnsim serve` and the api app (its
 * process in the cluster) both start it from here.
 */
export { createApiApp, serve, type CreateApiAppOptions, type RunningApi } from './app.js';
export { ApiConfigError, loadApiConfig, type ApiConfig } from './config.js';
