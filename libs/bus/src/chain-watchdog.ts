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
import { JOB, ORCHESTRATOR_QUEUE, type OutboxJob, jobId } from '@mnsim/runtime';
import type { Bus } from './redis-bus.js';
import type { BusLogger } from './logger.js';
import { RunStateRepository } from './run-state.js';
import { PeriodicSweep } from './periodic-sweep.js';

export interface ChainWatchdogOptions {
  /** how often the deadlines are swept (ms); a timeout fires up to this late (default 500) */
  intervalMs?: number;
  /** a claimed chain is claimed again after this long if its run is still on it (default 5 s) */
  retryMs?: number;
}

/** Chains claimed per sweep at most; more wait for the next. */
const CLAIM_LIMIT = 500;

export class ChainWatchdog {
  private readonly runs: RunStateRepository;
  private readonly retryMs: number;
  private readonly loop: PeriodicSweep<number>;

  constructor(
    private readonly bus: Bus,
    private readonly log: BusLogger,
    opts: ChainWatchdogOptions = {},
  ) {
    this.runs = new RunStateRepository(bus.redis, bus.opts.prefix);
    this.retryMs = opts.retryMs ?? 5_000;
    this.loop = new PeriodicSweep(
      () => this.claimAndSend(),
      0,
      log,
      'chain deadlines not swept (retrying)',
      opts.intervalMs ?? 500,
    );
  }

  /** Sweeps every interval until the bus closes (or stop()). */
  start(): void {
    this.loop.start();
    this.bus.onClose(() => this.stop());
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /**
   * Sends the timeout of every chain past its deadline; how many. Never throws: Redis away, the
   * deadlines stay and the next sweep claims them.
   */
  sweep(): Promise<number> {
    return this.loop.sweep();
  }

  private async claimAndSend(): Promise<number> {
    const expired = await this.runs.claimExpiredChains(this.retryMs, CLAIM_LIMIT);
    if (expired.length === 0) return 0;
    await this.bus.send(
      expired.map(({ runId, stimulusId }): OutboxJob<'timeout'> => ({
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
  }
}
