/**
 * The log of every built-in scenario × kernel variant, pinned twice:
 * - its events (format 1, one whole event a line): the fixture written by the embedded engine on
 *   main before the runtime was unified (one orchestrator, one Sys), which log format 2 left as
 *   it was too;
 * - its logHash (format 2, what the logHash covers since): written when format 2 came.
 * A change that is not meant to change the log must leave every one of them as it is; a change
 * that is (a new event field, a model fix) rewrites the fixtures in the same commit and says why.
 * Distributed runs are held to these same hashes by test/distributed (embedded twin equality).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KERNEL_VARIANTS } from '@mnsim/kernel';
import { simulate } from '@mnsim/engine';
import { LogHasher, canonicalEventLineFromPayload, encodePayload } from '@mnsim/events';
import { listBuiltinScenarios, resolveScenario } from '@mnsim/scenarios';
import { describe, expect, it } from 'vitest';

const fixture = (name: string): Record<string, string> =>
  JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8')) as Record<
    string,
    string
  >;
const pinned = fixture('builtin-log-hashes.json');
const pinnedFormat2 = fixture('builtin-log-hashes-format-2.json');

const names = listBuiltinScenarios().map((s) => s.name);

describe('the built-in scenarios log as they did', () => {
  it('pins every built-in × variant, and nothing else', () => {
    const keys = names.flatMap((n) => KERNEL_VARIANTS.map((k) => `${n} ${k}`)).sort();
    expect(Object.keys(pinned).sort()).toEqual(keys);
    expect(Object.keys(pinnedFormat2).sort()).toEqual(keys);
  });

  it.each(names)('%s: the same events and logHash on every variant', (name) => {
    const { scenario } = resolveScenario(name);
    for (const kernel of KERNEL_VARIANTS) {
      const events = new LogHasher();
      const { logHash } = simulate(scenario, {
        kernel,
        onEvent: (e) =>
          events.update(canonicalEventLineFromPayload(e, encodePayload(e.type, e.payload))),
      });
      expect(events.digest(), `${name} on ${kernel}: its events`).toBe(pinned[`${name} ${kernel}`]);
      expect(logHash, `${name} on ${kernel}`).toBe(pinnedFormat2[`${name} ${kernel}`]);
    }
  });
});
