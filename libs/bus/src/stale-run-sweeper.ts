/**
 * Runs are never orphaned: a run still `running` in the store whose last sign of life (its start,
 * its latest recorded event) is older than the run timeout (MNSIM_RUN_TIMEOUT) ends `failed`, with
 * a reason that says so. Its client was killed, or the api or orchestrator driving it crashed, and
 * nothing else would ever finish it.
 *
 * Every process that has the store sweeps (the api, the auditor): the store fails a run in one
 * conditional update, so sweepers never fail a run twice, and never one that finished meanwhile.
 * A run that is alive shows it in its events: an embedded run records them as it goes (the SQLite
 * sink writes each batch of 5,000 as it fills, stamped with the time they were made), and a
 * distributed run's reach the store through the auditor's flushes, stamped when stored.
 */
import type { RunRow, Store } from '@mnsim/store';
import type { BusLogger } from './logger.js';
import { PeriodicSweep } from './periodic-sweep.js';

/** The longest time between two sweeps: a run is failed at most this long after its timeout. */
export const MAX_STALE_SWEEP_INTERVAL_MS = 10_000;
/** the shortest, for run timeouts of a few seconds (tests) */
const MIN_STALE_SWEEP_INTERVAL_MS = 100;

/** Sweeps often enough that a run is failed within a sixth of its timeout after it, at most 10 s. */
export function staleSweepIntervalOf(runTimeoutMs: number): number {
  return Math.min(
    MAX_STALE_SWEEP_INTERVAL_MS,
    Math.max(MIN_STALE_SWEEP_INTERVAL_MS, Math.round(runTimeoutMs / 6)),
  );
}

/** The failure reason of a run failed by the sweep. */
export function staleRunReason(runTimeoutMs: number): string {
  const secs = Number((runTimeoutMs / 1000).toFixed(3));
  return `no sign of life for ${secs} s (MNSIM_RUN_TIMEOUT): its client or orchestrator is gone`;
}

export interface StaleRunSweeperOptions {
  /** MNSIM_RUN_TIMEOUT, in ms */
  runTimeoutMs: number;
  /** default staleSweepIntervalOf(runTimeoutMs) */
  intervalMs?: number;
}

export class StaleRunSweeper {
  readonly runTimeoutMs: number;
  readonly intervalMs: number;
  private readonly reason: string;
  private readonly loop: PeriodicSweep<RunRow[]>;

  constructor(
    private readonly store: Pick<Store, 'failStaleRuns'>,
    private readonly log: BusLogger,
    opts: StaleRunSweeperOptions,
  ) {
    this.runTimeoutMs = opts.runTimeoutMs;
    this.intervalMs = opts.intervalMs ?? staleSweepIntervalOf(opts.runTimeoutMs);
    this.reason = staleRunReason(opts.runTimeoutMs);
    this.loop = new PeriodicSweep(
      () => this.failStale(),
      [],
      log,
      'stale runs not swept (retrying)',
      this.intervalMs,
    );
  }

  /** Sweeps every interval until stop(). */
  start(): void {
    this.loop.start();
  }

  /** Stops sweeping, before the store closes. */
  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Fails the runs past their timeout and logs one line for each; the runs. Never throws. */
  sweep(): Promise<RunRow[]> {
    return this.loop.sweep();
  }

  private async failStale(): Promise<RunRow[]> {
    const failed = await this.store.failStaleRuns({
      olderThanMs: this.runTimeoutMs,
      reason: this.reason,
    });
    for (const run of failed) {
      this.log('warn', 'run failed: no sign of life', {
        runId: run.runId,
        status: run.status,
        scenario: run.scenario,
        kernel: run.kernel,
        arch: run.arch,
        createdAt: run.createdAt,
        failureReason: run.failureReason,
      });
    }
    return failed;
  }
}
