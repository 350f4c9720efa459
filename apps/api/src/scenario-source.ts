import { BadRequestException, Injectable } from '@nestjs/common';
import type { Scenario } from '@mnsim/kernel';
import {
  listBuiltinScenarios,
  parseScenario,
  resolveScenario,
  scenarioFromData,
} from '@mnsim/scenarios';
import type { CreateRunBody } from './requests.js';

/**
 * The scenario a POST /runs body names: a built-in by name, a YAML text, or a scenario object.
 * Only built-ins are read from disk: a name is looked up among them and never taken as a path, so a
 * request cannot make the server read a file of its choosing.
 */
@Injectable()
export class ScenarioSourceService {
  private builtins: string[] | null = null;

  resolve(body: CreateRunBody): { scenario: Scenario; source: string } {
    if (body.yaml !== undefined) {
      return { scenario: parseScenario(body.yaml, 'body.yaml'), source: body.yaml };
    }
    if (typeof body.scenario === 'string') {
      const names = this.builtinNames();
      if (!names.includes(body.scenario)) {
        throw new BadRequestException(
          `body.scenario: no built-in scenario ${JSON.stringify(body.scenario)} (built-ins: ${names.join(', ')})`,
        );
      }
      const { scenario, source } = resolveScenario(body.scenario);
      return { scenario, source };
    }
    return {
      scenario: scenarioFromData(body.scenario, 'body.scenario'),
      source: JSON.stringify(body.scenario),
    };
  }

  private builtinNames(): string[] {
    this.builtins ??= listBuiltinScenarios().map((s) => s.name);
    return this.builtins;
  }
}
