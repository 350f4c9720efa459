/**
 * Run limits and trace summaries through the embedded engine, with the scenario that took the
 * API down: every field within the scenario limits, a run that grows with VMs × memslots × steps.
 */
import { describe, expect, it } from 'vitest';
import { listBuiltinScenarios, resolveScenario, scenarioFromData } from '@mnsim/scenarios';
import {
  DEFAULT_RUN_LIMITS,
  RunLimitExceededError,
  TRACE_KEPT_ENTRIES,
  TRACE_SUMMARY,
  type TraceEntry,
} from '@mnsim/events';
import { hostileScenario } from '../../../bench/src/hostile-scenario.js';
import { simulate, simulateAsync } from './simulate.js';

describe('run limits', () => {
  it('stop the 8 VMs × 509 memslots × 9,000 mprotects scenario at a limit, naming it', () => {
    const scenario = scenarioFromData(hostileScenario(), 'hostile');
    let events = 0;
    let err: unknown;
    try {
      simulate(scenario, {
        keepKernelLog: false,
        onEvent: () => void events++,
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RunLimitExceededError);
    const limit = err as RunLimitExceededError;
    expect(['maxEvents', 'maxBytes']).toContain(limit.limit);
    expect(limit.reached).toBeGreaterThan(limit.max);
    // stopped at the event that passed the limit: neither it nor anything after it went out
    expect(events).toBeLessThanOrEqual(DEFAULT_RUN_LIMITS.maxEvents);
    expect(limit.seq).toBe(events);
  });

  it('fit every built-in scenario', () => {
    for (const { name } of listBuiltinScenarios()) {
      expect(() =>
        simulate(resolveScenario(name).scenario, { keepKernelLog: false }),
      ).not.toThrow();
    }
  });

  it('are the caller’s to set', () => {
    const { scenario } = resolveScenario('oom-reap-arm64');
    expect(() => simulate(scenario, { limits: { ...DEFAULT_RUN_LIMITS, maxEvents: 10 } })).toThrow(
      'the run passed its limit of 10 events: 11 at seq 10',
    );
  });
});

describe('trace summaries', () => {
  it('keep the first entries of a walk over every memslot and count the rest', () => {
    const scenario = scenarioFromData(hostileScenario({ vms: 2, memslots: 100, steps: 1 }), 'h');
    const traces: TraceEntry[][] = [];
    simulate(scenario, {
      keepKernelLog: false,
      onEvent: (e) => {
        const t = (e.payload as { trace?: TraceEntry[] }).trace;
        if (t) traces.push(t);
      },
    });
    const long = traces.filter((t) => t[t.length - 1].what === TRACE_SUMMARY);
    expect(long.length).toBeGreaterThan(0);
    for (const t of long) {
      expect(t).toHaveLength(TRACE_KEPT_ENTRIES + 1);
      const omitted = t[t.length - 1].detail.omitted as number;
      // one entry per memslot of the VM, and the entries around the walk
      expect(omitted).toBeGreaterThanOrEqual(100 - TRACE_KEPT_ENTRIES);
    }
    expect(traces.every((t) => t.length <= TRACE_KEPT_ENTRIES + 1)).toBe(true);
  });
});

describe('simulateAsync', () => {
  it('asks to pause after each stimulus and waits for what it is given, with the same result', async () => {
    const { scenario } = resolveScenario('oom-reap-arm64');
    const order: string[] = [];
    let pauses = 0;
    const result = await simulateAsync(
      scenario,
      { keepKernelLog: false, onEvent: (e) => order.push(`event ${e.seq}`) },
      () => {
        pauses++;
        if (pauses % 2 === 1) return undefined; // nothing to wait for
        // a store that has fallen behind: nothing is emitted until its writes complete
        order.push('wait');
        return new Promise<void>((resolve) =>
          setTimeout(() => {
            order.push('drained');
            resolve();
          }, 1),
        );
      },
    );
    expect(pauses).toBeGreaterThan(2);
    for (let i = order.indexOf('wait'); i !== -1; i = order.indexOf('wait', i + 1)) {
      expect(order[i + 1]).toBe('drained');
    }
    expect(result.logHash).toBe(simulate(scenario, { keepKernelLog: false }).logHash);
  });
});
