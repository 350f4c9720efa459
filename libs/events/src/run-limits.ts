/**
 * What one run may produce. A scenario's fields are each bounded (libs/scenarios' LIMITS), but
 * their product is not: 8 VMs × 509 memslots × 9,000 mprotect steps fit every field and make a
 * run of millions of events and gigabytes. A run that passes one of these limits stops at the
 * event that passed it and ends `failed`, naming the limit and the value reached.
 *
 * One budget serves every path that produces a run's events (the embedded engine and replay),
 * fed with each event's canonical line as it is encoded.
 */
import { MnsimError } from '@mnsim/errors';
import type { TraceEntry } from './payloads.js';

export interface RunLimits {
  /** events in the run's log, run.start and run.end included */
  maxEvents: number;
  /** bytes of the run's log in format 2 (its lines, definitions included, without the newlines) */
  maxBytes: number;
  /**
   * trace entries one event carries, counted before the log summarises them (TRACE_KEPT_ENTRIES):
   * a step that walks more than this is a runaway, not a trace
   */
  maxTraceEntries: number;
}

/**
 * Every built-in scenario and every generated (fuzz) scenario fits these several times over: the
 * largest built-in log is 56 KB of format 2, and the largest of 2,000 fuzz runs (seeds 1-4, 500
 * each) 576 KB. They are set so that a run that would not fit stops within about a second of
 * simulation: format 2 packs ten times the events of format 1 in a byte, so at the 4 MiB that
 * suited format 1 the hostile 2x1x9000 scenario ran 40,496 events (6 s on a loaded machine).
 */
export const DEFAULT_RUN_LIMITS: Readonly<RunLimits> = Object.freeze({
  maxEvents: 100_000,
  maxBytes: 2 * 1024 * 1024,
  maxTraceEntries: 100_000,
});

/** For what builds big runs on purpose (the benchmarks): nothing is refused. */
export const NO_RUN_LIMITS: Readonly<RunLimits> = Object.freeze({
  maxEvents: Infinity,
  maxBytes: Infinity,
  maxTraceEntries: Infinity,
});

/** The environment variable that sets each limit, as the error names it. */
export const RUN_LIMIT_ENV: Readonly<Record<keyof RunLimits, string>> = Object.freeze({
  maxEvents: 'MNSIM_MAX_RUN_EVENTS',
  maxBytes: 'MNSIM_MAX_RUN_BYTES',
  maxTraceEntries: 'MNSIM_MAX_TRACE_ENTRIES',
});

const WHAT: Readonly<Record<keyof RunLimits, string>> = {
  maxEvents: 'events',
  maxBytes: 'bytes of log',
  maxTraceEntries: 'trace entries in one event',
};

export class RunLimitExceededError extends MnsimError {
  constructor(
    readonly limit: keyof RunLimits,
    readonly max: number,
    readonly reached: number,
    readonly seq: number,
  ) {
    super(
      `the run passed its limit of ${max.toLocaleString('en-US')} ${WHAT[limit]}: ` +
        `${reached.toLocaleString('en-US')} at seq ${seq} (${RUN_LIMIT_ENV[limit]} sets the limit)`,
      'limit',
    );
  }
}

/**
 * The log keeps the first TRACE_KEPT_ENTRIES entries a step traced before an event; past them it
 * keeps a count. This is part of the log format: the same run gives the same bytes everywhere.
 */
export const TRACE_KEPT_ENTRIES = 64;
/** The entry that stands for the entries past TRACE_KEPT_ENTRIES. */
export const TRACE_SUMMARY = 'trace.summarised';

/** How many entries a trace had before it was summarised (TRACE_SUMMARY's `omitted`). */
export function rawTraceEntries(trace: readonly TraceEntry[] | undefined): number {
  if (trace === undefined) return 0;
  const last = trace[trace.length - 1];
  if (last?.what === TRACE_SUMMARY && typeof last.detail.omitted === 'number') {
    return trace.length - 1 + last.detail.omitted;
  }
  return trace.length;
}

/** Counts a run's events and bytes against its limits; throws at the first event past one. */
export class RunBudget {
  private events = 0;
  private bytes = 0;

  constructor(readonly limits: Readonly<RunLimits> = DEFAULT_RUN_LIMITS) {}

  /** one event: its seq, the length of its canonical line, its trace as the payload holds it */
  event(seq: number, lineBytes: number, trace: readonly TraceEntry[] | undefined): void {
    const l = this.limits;
    if (++this.events > l.maxEvents) {
      throw new RunLimitExceededError('maxEvents', l.maxEvents, this.events, seq);
    }
    this.bytes += lineBytes;
    if (this.bytes > l.maxBytes) {
      throw new RunLimitExceededError('maxBytes', l.maxBytes, this.bytes, seq);
    }
    if (trace !== undefined && trace.length >= TRACE_KEPT_ENTRIES) {
      const entries = rawTraceEntries(trace);
      if (entries > l.maxTraceEntries) {
        throw new RunLimitExceededError('maxTraceEntries', l.maxTraceEntries, entries, seq);
      }
    }
  }
}

/**
 * Reads the limits from the environment: each variable, when set, is a positive integer (digits,
 * `_` or `,` allowed as separators). Anything else throws with the variable's name.
 */
export function runLimitsFromEnv(env: NodeJS.ProcessEnv = process.env): RunLimits {
  const limits: RunLimits = { ...DEFAULT_RUN_LIMITS };
  for (const key of Object.keys(RUN_LIMIT_ENV) as (keyof RunLimits)[]) {
    const text = env[RUN_LIMIT_ENV[key]];
    if (text === undefined || text === '') continue;
    const digits = text.trim().replace(/[_,]/g, '');
    const n = /^\d{1,15}$/.test(digits) ? Number(digits) : NaN;
    if (!(n >= 1)) {
      throw new InvalidRunLimitError(
        `${RUN_LIMIT_ENV[key]} must be a positive integer, not ${JSON.stringify(text)}`,
      );
    }
    limits[key] = n;
  }
  return limits;
}

export class InvalidRunLimitError extends MnsimError {
  constructor(message: string) {
    super(message, 'config');
  }
}
