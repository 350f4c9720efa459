/**
 * The chain timeout (invariant 4: a run whose chain cannot complete ends `failed` with the
 * reason). The orchestrator's save of a running run's record sets the deadline of its chain in
 * flight, on Redis's clock (run-state.ts); every orchestrator sweeps the deadlines that passed
 * and sends each claimed chain's `timeout` to the orchestrator queue, where it fails the run if
 * that chain is still the one in flight.
 *
 * One sweep (a script) per interval per orchestrator, whatever the number of runs, instead of a
 * delayed job per stimulus that was armed with it and removed when its chain completed.
 */
import { JOB, ORCHESTRATOR_QUEUE, jobId } from '@mnsim/runtime';
import type { Bus } from './redis-bus.js';
import type { BusLogger } from './logger.js';
import { RunStateRepository } from './run-state.js';

export interface ChainWatchdogOptions {
  /** how often the deadlines are swept (ms); a timeout fires up to this late (default 500) */
  intervalMs?: number;
  /** a claimed chain is claimed again after this long if its run is still on it (default 5 s) */
  retryMs?: number;
}

/** Chains claimed per sweep at most; more wait for the next. */
const CLAIM_LIMIT = 500;
const WARN_QUIET_MS = 30_000;
const STOP_WAIT_MS = 1_000;

export class ChainWatchdog {
  private readonly runs: RunStateRepository;
  private timer: NodeJS.Timeout | null = null;
  /** the sweep under way, if any */
  private inFlight: Promise<number> | null = null;
  private stopped = false;
  private readonly intervalMs: number;
  private readonly retryMs: number;
  /** when a failed sweep was last logged: one line per WARN_QUIET_MS while Redis is away */
  private lastWarned = 0;

  constructor(
    private readonly bus: Bus,
    private readonly log: BusLogger,
    opts: ChainWatchdogOptions = {},
  ) {
    this.runs = new RunStateRepository(bus.redis, bus.opts.prefix);
    this.intervalMs = opts.intervalMs ?? 500;
    this.retryMs = opts.retryMs ?? 5_000;
  }

  /** Sweeps every interval until the bus closes (or stop()). */
  start(): void {
    if (this.timer) return;
    this.stopped = false;
    this.timer = setInterval(() => {
      // one sweep at a time: the ticks that come while one waits (Redis slow or away) are skipped
      if (this.inFlight) return;
      this.inFlight = this.sweep().finally(() => {
        this.inFlight = null;
      });
    }, this.intervalMs);
    this.bus.onClose(() => this.stop());
  }

  /**
   * Stops sweeping. A sweep under way is waited for, but no longer than STOP_WAIT_MS: with Redis
   * away its commands wait for a connection that the bus is about to close.
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

  /** Sends the timeout of every chain past its deadline; how many. Never throws (it logs). */
  async sweep(): Promise<number> {
    try {
      const expired = await this.runs.claimExpiredChains(this.retryMs, CLAIM_LIMIT);
      if (expired.length === 0) return 0;
      await this.bus.send(
        expired.map(({ runId, stimulusId }) => ({
          queue: ORCHESTRATOR_QUEUE,
          name: JOB.timeout,
          jobId: jobId(runId, 'timeout', stimulusId),
          data: { runId, stimulusId },
        })),
      );
      for (const { runId, stimulusId } of expired) {
        this.log('info', 'chain past its deadline: timeout sent', { runId, stimulusId });
      }
      return expired.length;
    } catch (err) {
      // Redis away: the deadlines stay, the next sweep claims them
      const now = Date.now();
      if (!this.stopped && now - this.lastWarned >= WARN_QUIET_MS) {
        this.lastWarned = now;
        this.log('warn', 'chain deadlines not swept (retrying)', {
          reason: err instanceof Error ? err.message : String(err),
        });
      }
      return 0;
    }
  }
}
