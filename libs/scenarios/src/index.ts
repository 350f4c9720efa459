/**
 * @mnsim/scenarios — the scenario file format: parsing, validation, built-in scenarios.
 */
export { ScenarioError, UnknownScenarioError, EXIT_BAD_INPUT } from './errors.js';
export { parseScenario, scenarioFromData } from './parse.js';
export { loadScenarioFile, resolveScenario, listBuiltinScenarios } from './files.js';
export { parseSize, parseAddress, formatSize, formatAddress, UnitError } from './units.js';
export { LIMITS, HZ_VALUES, PAGE_SIZES, ipaBitsRange } from './limits.js';
export {
  FUZZ_SCENARIO_PREFIX,
  fuzzCampaignPrefix,
  generateScenario,
  type GenerateOptions,
  type GeneratedScenario,
} from './generate.js';
