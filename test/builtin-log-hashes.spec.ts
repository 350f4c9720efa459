/**
 * The logHash of every built-in scenario × kernel variant, pinned. The fixture was written by the
 * embedded engine on main before the runtime was unified (one orchestrator, one Sys), and a change
 * that is not meant to change the log must leave every one of them as it is; a change that is
 * (a new event field, a model fix) rewrites the fixture in the same commit and says why.
 * Distributed runs are held to these same hashes by test/distributed (embedded twin equality).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KERNEL_VARIANTS } from '@mnsim/kernel';
import { simulate } from '@mnsim/engine';
import { listBuiltinScenarios, resolveScenario } from '@mnsim/scenarios';
import { describe, expect, it } from 'vitest';

const pinned = JSON.parse(
  readFileSync(join(import.meta.dirname, 'fixtures/builtin-log-hashes.json'), 'utf8'),
) as Record<string, string>;

const names = listBuiltinScenarios().map((s) => s.name);

describe('the built-in scenarios log as they did', () => {
  it('pins every built-in × variant, and nothing else', () => {
    const keys = names.flatMap((n) => KERNEL_VARIANTS.map((k) => `${n} ${k}`));
    expect(Object.keys(pinned).sort()).toEqual(keys.sort());
  });

  it.each(names)('%s: the same logHash on every variant', (name) => {
    const { scenario } = resolveScenario(name);
    for (const kernel of KERNEL_VARIANTS) {
      expect(simulate(scenario, { kernel }).logHash, `${name} on ${kernel}`).toBe(
        pinned[`${name} ${kernel}`],
      );
    }
  });
});
