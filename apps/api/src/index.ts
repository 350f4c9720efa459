/** The HTTP API of `mnsim serve`. */
export { createApiApp, serve, type CreateApiAppOptions, type RunningApi } from './app.js';
export { ApiConfigError, loadApiConfig, type ApiConfig } from './config.js';
