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

/** The longest time between two sweeps: a run is failed at most this long after its timeout. */
export const MAX_STALE_SWEEP_INTERVAL_MS = 10_000;
/** the shortest, for run timeouts of a few seconds (tests) */
const MIN_STALE_SWEEP_INTERVAL_MS = 100;
const WARN_QUIET_MS = 30_000;
const STOP_WAIT_MS = 1_000;

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
  private timer: NodeJS.Timeout | null = null;
  /** the sweep under way, if any */
  private inFlight: Promise<RunRow[]> | null = null;
  private stopped = false;
  /** when a failed sweep was last logged: one line per WARN_QUIET_MS while the store is away */
  private lastWarned = 0;
  readonly runTimeoutMs: number;
  readonly intervalMs: number;
  private readonly reason: string;

  constructor(
    private readonly store: Pick<Store, 'failStaleRuns'>,
    private readonly log: BusLogger,
    opts: StaleRunSweeperOptions,
  ) {
    this.runTimeoutMs = opts.runTimeoutMs;
    this.intervalMs = opts.intervalMs ?? staleSweepIntervalOf(opts.runTimeoutMs);
    this.reason = staleRunReason(opts.runTimeoutMs);
  }

  /** Sweeps every interval until stop(); the timer alone keeps no process alive. */
  start(): void {
    if (this.timer) return;
    this.stopped = false;
    this.timer = setInterval(() => {
      // one sweep at a time: the ticks that come while one waits (the store slow or away) are skipped
      if (this.inFlight) return;
      this.inFlight = this.sweep().finally(() => {
        this.inFlight = null;
      });
    }, this.intervalMs);
    this.timer.unref();
  }

  /**
   * Stops sweeping, before the store closes. A sweep under way is waited for, but no longer than
   * STOP_WAIT_MS: with the database away it waits for a connection that is about to close.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const inFlight = this.inFlight;
    if (!inFlight) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([inFlight, new Promise((r) => (timer = setTimeout(r, STOP_WAIT_MS)))]);
    clearTimeout(timer);
  }

  /** Fails the runs past their timeout and logs one line for each; the runs. Never throws. */
  async sweep(): Promise<RunRow[]> {
    try {
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
    } catch (err) {
      const now = Date.now();
      if (!this.stopped && now - this.lastWarned >= WARN_QUIET_MS) {
        this.lastWarned = now;
        this.log('warn', 'stale runs not swept (retrying)', {
          reason: err instanceof Error ? err.message : String(err),
        });
      }
      return [];
    }
  }
}
