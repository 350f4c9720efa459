import { MnsimError } from '@mnsim/errors';
import type { Scenario } from '@mnsim/kernel';
import {
  listBuiltinScenarios,
  parseScenario,
  resolveScenario,
  scenarioFromData,
} from '@mnsim/scenarios';
import type { CreateRunBody } from './requests.js';

/** A POST /runs body that names no scenario the API has: 400. */
export class UnknownBuiltinError extends MnsimError {
  constructor(message: string) {
    super(message, 'bad-input');
  }
}

let builtins: string[] | null = null;

/**
 * The scenario a POST /runs body names: a built-in by name, a YAML text, or a scenario object.
 * Only built-ins are read from disk: a name is looked up among them and never taken as a path, so a
 * request cannot make the server read a file of its choosing.
 */
export function resolveRunScenario(body: CreateRunBody): { scenario: Scenario; source: string } {
  if (body.yaml !== undefined) {
    return { scenario: parseScenario(body.yaml, 'body.yaml'), source: body.yaml };
  }
  if (typeof body.scenario === 'string') {
    builtins ??= listBuiltinScenarios().map((s) => s.name);
    if (!builtins.includes(body.scenario)) {
      throw new UnknownBuiltinError(
        `body.scenario: no built-in scenario ${JSON.stringify(body.scenario)} (built-ins: ${builtins.join(', ')})`,
      );
    }
    return resolveScenario(body.scenario);
  }
  return {
    scenario: scenarioFromData(body.scenario, 'body.scenario'),
    source: JSON.stringify(body.scenario),
  };
}
