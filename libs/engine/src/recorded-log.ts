/**
 * A recorded run's log as replay reads it, wherever it is kept (a JSON Lines file, the store):
 * what the run was started with (its run.start event), what it claims about itself (event count,
 * logHash), and its canonical event lines in seq order.
 */
import { z } from 'zod';
import {
  ARCHES,
  KERNEL_VARIANTS,
  type Arch,
  type KernelVariant,
  type Scenario,
} from '@mnsim/kernel';
import { type Violation, violationWithSeq } from '@mnsim/events';
import { ScenarioError, scenarioFromData } from '@mnsim/scenarios';
import type { SyncLineSource } from './file-line-source.js';

/** The run.start event of a log: everything a re-execution needs. */
export interface RunStart {
  kernel: KernelVariant;
  arch: Arch;
  seed: number;
  /** validated and normalized again, so a tampered scenario is refused with the field at fault */
  scenario: Scenario;
  /** the event's canonical line, as recorded */
  line: string;
}

export interface RecordedLog {
  /** names the log in messages: the file as given, or `run <id>` */
  readonly origin: string;
  readonly runId: string;
  readonly start: RunStart;
  /** what the log says of itself (the file's header, the run's row) */
  readonly events: number;
  readonly logHash: string;
  /** the canonical event lines as recorded, unchecked: the fast path */
  lines(): AsyncIterable<string>;
  /**
   * The same lines, checked: throws, naming the first bad line, for a malformed log, and after the
   * last line when the count or the hash of the lines is not what the log says of itself.
   */
  checkedLines(): AsyncIterable<string>;
  /**
   * Where the log can do it (a file): the same unchecked lines read synchronously, their hash
   * computed meanwhile on another thread. Verify-mode replay then compares in lockstep.
   */
  syncLines?(): SyncLineSource;
}

const runStartSchema = z.object({
  arch: z.enum(ARCHES),
  kernel: z.enum(KERNEL_VARIANTS),
  scenario: z.unknown(),
  seed: z.int().min(0),
});

/** The first issue of a failed zod parse as `path: reason`. */
export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  const path = issue.path.map(String).join('.');
  return path === '' ? issue.message : `${path}: ${issue.message}`;
}

/**
 * Validates a run.start payload. `fail` builds the error for the log at hand (a file names the
 * line, the store names the run).
 */
export function runStartOf(
  payload: unknown,
  line: string,
  fail: (reason: string) => Error,
): RunStart {
  const parsed = runStartSchema.safeParse(payload);
  if (!parsed.success) throw fail(`run.start: ${firstIssue(parsed.error)}`);
  const { arch, kernel, seed } = parsed.data;
  let scenario: Scenario;
  try {
    scenario = scenarioFromData(parsed.data.scenario, 'run.start');
  } catch (err) {
    if (!(err instanceof ScenarioError)) throw err;
    throw fail(
      `run.start: the scenario is invalid: ${err.path === '' ? '' : `${err.path}: `}${err.reason}`,
    );
  }
  if (scenario.host.arch !== arch) {
    throw fail(`run.start: arch is ${arch} but the scenario's host.arch is ${scenario.host.arch}`);
  }
  return { kernel, arch, seed, scenario, line };
}

/** Canonical lines end with their type, the envelope's last key: no need to parse the others. */
const VIOLATION_LINE_END = `"type":"violation"}`;

/** The violation a canonical line carries, or null for any other event. */
export function violationOfLine(line: string): Violation | null {
  if (!line.endsWith(VIOLATION_LINE_END)) return null;
  const e = JSON.parse(line) as { seq: number; payload: { violation: Omit<Violation, 'seq'> } };
  return violationWithSeq(e.seq, e.payload.violation);
}
