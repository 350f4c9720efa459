/**
 * Log format 2 (@mnsim/events interned-log.ts) on real runs: every built-in scenario × variant and
 * a generated campaign interned and expanded again give back every format 1 line byte for byte,
 * and the expander refuses a log whose definitions were removed, moved after their first use, or
 * are not the ones the events use.
 */
import { KERNEL_VARIANTS } from '@mnsim/kernel';
import { simulate } from '@mnsim/engine';
import {
  type CanonicalEvent,
  LogExpander,
  LogFormatError,
  LogInterner,
  canonicalEventLine,
  encodePayload,
  expandLines,
} from '@mnsim/events';
import { generateScenario, listBuiltinScenarios, resolveScenario } from '@mnsim/scenarios';
import type { Scenario } from '@mnsim/kernel';
import { replayBenchScenario } from '../bench/src/replay-bench.js';
import { describe, expect, it } from 'vitest';

/**
 * A run's events as format 1 has them, and the format 2 lines the engine's typed path writes for
 * them as they are emitted (the context live).
 */
function runOf(scenario: Scenario, kernel?: (typeof KERNEL_VARIANTS)[number]): CanonicalEvent[] {
  const events: CanonicalEvent[] = [];
  const typedLines: string[] = [];
  simulate(scenario, {
    kernel,
    keepKernelLog: false,
    onEvent: (e, lines) => {
      typedLines.push(...lines);
      events.push({
        causationId: e.causationId,
        id: e.id,
        jiffies: e.jiffies,
        payload: JSON.parse(encodePayload(e.type, e.payload)) as CanonicalEvent['payload'],
        seq: e.seq,
        type: e.type,
      });
    },
  });
  // the typed path writes what the generic one writes for the same events
  expect(typedLines).toEqual(LogInterner.lines(events));
  return events;
}

const bytes = (lines: readonly string[]): number =>
  lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);

/** The line number (1-based, after the header) of the first line for which `pick` is true. */
const indexOf = (lines: readonly string[], pick: (l: string) => boolean): number =>
  lines.findIndex(pick);

describe('log format 2', () => {
  const builtins = listBuiltinScenarios().map((s) => s.name);

  it.each(builtins)('%s: expands to the format 1 lines on every variant', (name) => {
    const { scenario } = resolveScenario(name);
    for (const kernel of KERNEL_VARIANTS) {
      const events = runOf(scenario, kernel);
      const v1 = events.map(canonicalEventLine);
      const v2 = LogInterner.lines(events);
      expect(expandLines(v2).map(canonicalEventLine), `${name} on ${kernel}`).toEqual(v1);
      // each definition once, before the event that first uses it
      const defs = v2.filter((l) => l.startsWith('{'));
      expect(new Set(defs).size).toBe(defs.length);
      expect(v2.length - defs.length).toBe(events.length);
      expect(bytes(v2)).toBeLessThan(bytes(v1));
    }
  });

  it('expands a generated campaign exactly, in a fraction of the bytes', () => {
    let v1Bytes = 0;
    let v2Bytes = 0;
    for (let i = 0; i < 40; i++) {
      const { scenario } = generateScenario(5, i);
      const events = runOf(scenario);
      const v1 = events.map(canonicalEventLine);
      const v2 = LogInterner.lines(events);
      expect(expandLines(v2).map(canonicalEventLine), scenario.name).toEqual(v1);
      v1Bytes += bytes(v1);
      v2Bytes += bytes(v2);
    }
    // short runs: each value is defined once per run, and most are used only a few times
    expect(v2Bytes).toBeLessThan(v1Bytes * 0.7);
  });

  it("a long run's events take a few dozen bytes each beside its definitions", () => {
    const events = runOf(replayBenchScenario(400));
    const v1 = events.map(canonicalEventLine);
    const v2 = LogInterner.lines(events);
    expect(expandLines(v2).map(canonicalEventLine)).toEqual(v1);
    // the benchmark's log (the same workload, ~70 times longer): ~700 bytes an event in format 1
    expect(bytes(v1) / events.length).toBeGreaterThan(600);
    expect(bytes(v2) / events.length).toBeLessThan(150);
  });

  describe('refuses a log whose definitions were tampered with', () => {
    const events = runOf(resolveScenario('oom-reap-arm64').scenario);
    const v2 = LogInterner.lines(events);
    /** The reason and line (0-based, after the header) at which expanding `lines` stops. */
    function refusal(lines: readonly string[]): { at: number; reason: string } {
      const x = new LogExpander();
      for (let i = 0; i < lines.length; i++) {
        try {
          x.line(lines[i]);
        } catch (err) {
          if (!(err instanceof LogFormatError)) throw err;
          return { at: i, reason: err.message };
        }
      }
      try {
        x.end();
      } catch (err) {
        return { at: lines.length, reason: (err as Error).message };
      }
      throw new Error('the log was not refused');
    }
    const ctxDef = indexOf(v2, (l) => l.includes('"kind":"ctx"'));
    const ctxId = (JSON.parse(v2[ctxDef]) as { id: number }).id;
    const firstUse = ctxDef + 1 + indexOf(v2.slice(ctxDef + 1), (l) => l.startsWith('['));

    it('a definition removed: the next line that needs its id is named', () => {
      const lines = v2.filter((_, i) => i !== ctxDef);
      expect(refusal(lines)).toEqual({
        at: ctxDef,
        reason: expect.stringMatching(
          new RegExp(`where ${ctxId} is next|ctx ${ctxId}, defined on no line`),
        ),
      });
    });

    it('a definition moved after its first use: that use is named', () => {
      // the definitions of the first use, all moved after it
      const defsBefore = v2.slice(ctxDef, firstUse);
      const lines = [
        ...v2.slice(0, ctxDef),
        v2[firstUse],
        ...defsBefore,
        ...v2.slice(firstUse + 1),
      ];
      expect(refusal(lines)).toEqual({
        at: ctxDef,
        reason: expect.stringContaining('defined on no line before it'),
      });
    });

    it('a definition no event uses first: the event after it is named', () => {
      const spare = `{"id":${ctxId},"kind":"stack","value":[0,"spare"]}`;
      const lines = [...v2.slice(0, ctxDef), spare, ...v2.slice(ctxDef).map((l) => l)];
      // ids after the spare one are off by one: the first of them is named
      expect(refusal(lines).at).toBe(ctxDef + 1);
    });

    it('a definition given twice: refused at the second', () => {
      const lines = [...v2.slice(0, firstUse + 1), v2[ctxDef], ...v2.slice(firstUse + 1)];
      expect(refusal(lines)).toEqual({
        at: firstUse + 1,
        reason: expect.stringContaining('is next'),
      });
    });

    it('an event that is not in canonical form', () => {
      const lines = v2.slice();
      lines[firstUse] = lines[firstUse].replace('[', '[ ');
      expect(refusal(lines)).toEqual({
        at: firstUse,
        reason: expect.stringContaining('not in canonical form'),
      });
    });

    it('a definition after the last event', () => {
      expect(refusal([...v2, '{"id":9999,"kind":"stack","value":[]}']).reason).toMatch(/is next/);
    });
  });
});
