/**
 * @mnsim/runs: the run use-cases the CLI and the API share: an embedded run recorded in the store,
 * and the JSON the contract prints for runs and violations. (A run on the cluster is the cluster
 * client's, @mnsim/bus.)
 */
export * from './run-embedded.js';
export * from './run-json.js';
export * from './since.js';
