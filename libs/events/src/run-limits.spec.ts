import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RUN_LIMITS,
  InvalidRunLimitError,
  RunBudget,
  RunLimitExceededError,
  TRACE_KEPT_ENTRIES,
  TRACE_SUMMARY,
  rawTraceEntries,
  runLimitsFromEnv,
} from './run-limits.js';
import type { TraceEntry } from './payloads.js';

const entries = (n: number): TraceEntry[] =>
  Array.from({ length: n }, (_, i) => ({ what: 'unmap_stage2_range', detail: { slot: i } }));

describe('RunBudget', () => {
  it('lets a run reach each limit and stops it at the event past it, naming limit and value', () => {
    const budget = new RunBudget({ maxEvents: 3, maxBytes: 1000, maxTraceEntries: 10 });
    budget.event(0, 100, undefined);
    budget.event(1, 100, undefined);
    budget.event(2, 100, undefined);
    const err = (() => {
      try {
        budget.event(3, 100, undefined);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(RunLimitExceededError);
    expect((err as RunLimitExceededError).limit).toBe('maxEvents');
    expect((err as Error).message).toBe(
      'the run passed its limit of 3 events: 4 at seq 3 (MNSIM_MAX_RUN_EVENTS sets the limit)',
    );
  });

  it('counts the bytes of the canonical lines', () => {
    const budget = new RunBudget({ maxEvents: 100, maxBytes: 250, maxTraceEntries: 10 });
    budget.event(0, 125, undefined);
    budget.event(1, 125, undefined);
    expect(() => budget.event(2, 1, undefined)).toThrow(
      'the run passed its limit of 250 bytes of log: 251 at seq 2 (MNSIM_MAX_RUN_BYTES sets the limit)',
    );
  });

  it('counts the trace entries a summarised trace stood for', () => {
    const summarised = [
      ...entries(TRACE_KEPT_ENTRIES),
      { what: TRACE_SUMMARY, detail: { omitted: 500 } },
    ];
    expect(rawTraceEntries(summarised)).toBe(TRACE_KEPT_ENTRIES + 500);
    expect(rawTraceEntries(entries(3))).toBe(3);
    expect(rawTraceEntries(undefined)).toBe(0);
    const budget = new RunBudget({ maxEvents: 100, maxBytes: 1e9, maxTraceEntries: 509 });
    budget.event(0, 1, entries(TRACE_KEPT_ENTRIES));
    expect(() => budget.event(1, 1, summarised)).toThrow(
      /limit of 509 trace entries in one event: 564 at seq 1/,
    );
  });
});

describe('runLimitsFromEnv', () => {
  it('takes the defaults, and each variable that is set', () => {
    expect(runLimitsFromEnv({})).toEqual(DEFAULT_RUN_LIMITS);
    expect(
      runLimitsFromEnv({ MNSIM_MAX_RUN_EVENTS: '1_000_000', MNSIM_MAX_RUN_BYTES: '2,000' }),
    ).toEqual({ ...DEFAULT_RUN_LIMITS, maxEvents: 1_000_000, maxBytes: 2000 });
  });

  it.each(['0', '-1', '1e6', 'lots', '1.5', '99999999999999999'])('refuses %j', (text) => {
    expect(() => runLimitsFromEnv({ MNSIM_MAX_TRACE_ENTRIES: text })).toThrow(InvalidRunLimitError);
    expect(() => runLimitsFromEnv({ MNSIM_MAX_TRACE_ENTRIES: text })).toThrow(
      /^MNSIM_MAX_TRACE_ENTRIES must be a positive integer/,
    );
  });
});
