/**
 * Runs and violations as JSON, exactly the design's objects: what `mnsim run --json`, `mnsim
 * violations --json` and `mnsim replay --json` print and what the API answers with.
 */
import { type Violation, violationWithSeq } from '@mnsim/events';
import type { ViolationRow } from '@mnsim/store';
import type { Arch, KernelVariant } from '@mnsim/kernel';
import type { KernelLogLine } from '@mnsim/engine';

/** What a run prints, embedded or distributed. */
export interface PrintableRun {
  runId: string;
  scenario: string;
  kernel: KernelVariant;
  arch: Arch;
  seed: number;
  status: 'completed' | 'failed';
  events: number;
  logHash: string | null;
  violations: Violation[];
  kernelLog: KernelLogLine[];
  panicked: boolean;
}

export function runJson(run: PrintableRun): object {
  return {
    runId: run.runId,
    scenario: run.scenario,
    kernel: run.kernel,
    arch: run.arch,
    seed: run.seed,
    status: run.status,
    events: run.events,
    logHash: run.logHash,
    violations: run.violations.map(violationJson),
  };
}

export function violationJson(v: Violation): Violation {
  return violationWithSeq(v.seq, v);
}

/** A violation of the history as `mnsim violations --json` prints it and GET /violations answers. */
export function violationRowJson(v: ViolationRow): object {
  return {
    ...violationJson(v),
    runId: v.runId,
    origin: v.origin,
    scenario: v.scenario,
    kernel: v.kernel,
    arch: v.arch,
    recordedAt: v.recordedAt,
  };
}
