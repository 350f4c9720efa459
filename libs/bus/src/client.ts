/**
 * Submitting a run to a running cluster and waiting for its outcome: what `mnsim run
 * --distributed` and the API use. The outcome is the auditor's (written once every event is in
 * the store); progress is the orchestrator's event cursor.
 */
import type { KernelVariant, Scenario } from '@mnsim/kernel';
import { JOB, ORCHESTRATOR_QUEUE, jobId, type StartMessage } from './messages.js';
import type { Bus } from './redis-bus.js';
import { RunStateRepository, type RunLiveness, type RunOutcome } from './run-state.js';

export const DEFAULT_CHAIN_TIMEOUT_MS = 30_000;

export interface SubmitOptions {
  kernel: KernelVariant;
  seed: number;
  /** a chain that does not complete within this ends the run failed */
  timeoutMs?: number;
}

export interface WaitOptions {
  /** events emitted so far */
  onProgress?: (events: number) => void;
  /** give up when nothing moves for this long (no orchestrator, no auditor); default 2 × chain timeout + 5 s */
  stallMs?: number;
  /**
   * fail the run when its state has been gone from Redis (no outcome, no orchestrator record, no
   * start job) for this long: Redis restarted empty or was flushed; default 5 s
   */
  vanishedMs?: number;
  /**
   * how often progress and liveness are read; the outcome itself is announced (pub/sub) and
   * taken at once. Default 250 ms
   */
  pollMs?: number;
}

/** The run cannot finish: nothing moved for too long, its state vanished, or Redis is unreachable. */
export class RunStalledError extends Error {}

/** Resolves with the promise, or rejects with `onTimeout()` after `ms`. */
async function within<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(onTimeout()), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits `ms`, or less if `early` settles first. */
async function sleepUnless(ms: number, early: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([early, new Promise((r) => (timer = setTimeout(r, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export class DistributedClient {
  private readonly runs: RunStateRepository;

  constructor(private readonly bus: Bus) {
    this.runs = new RunStateRepository(bus.redis, bus.opts.prefix);
  }

  async submit(runId: string, scenario: Scenario, opts: SubmitOptions): Promise<void> {
    const data: StartMessage = {
      runId,
      kernel: opts.kernel,
      seed: opts.seed,
      scenario: scenario as unknown as StartMessage['scenario'],
      timeoutMs: opts.timeoutMs ?? DEFAULT_CHAIN_TIMEOUT_MS,
    };
    await this.bus.send([
      { queue: ORCHESTRATOR_QUEUE, name: JOB.start, jobId: jobId(runId, 'start', 'run'), data },
    ]);
  }

  /**
   * Resolves with the outcome; throws RunStalledError when nothing moves for `stallMs`, when the
   * run's state vanished from Redis (restarted empty, flushed), or when Redis does not answer.
   */
  async wait(runId: string, timeoutMs: number, opts: WaitOptions = {}): Promise<RunOutcome> {
    const stallMs = opts.stallMs ?? 2 * timeoutMs + 5_000;
    const vanishedMs = opts.vanishedMs ?? 5_000;
    const pollMs = opts.pollMs ?? 250;
    const watch = this.bus.watchRunClosed(runId);
    try {
      // subscribed before the first read: a close announced after that read is not missed
      await within(watch.ready, stallMs, () => this.noAnswer(runId, stallMs));
      return await this.waitPolling(runId, stallMs, vanishedMs, pollMs, watch.closed, opts);
    } finally {
      watch.cancel();
    }
  }

  private noAnswer(runId: string, stallMs: number): RunStalledError {
    return new RunStalledError(
      `run ${runId}: Redis at ${this.bus.opts.redisUrl} did not answer for ${stallMs} ms (is it running?)`,
    );
  }

  private async waitPolling(
    runId: string,
    stallMs: number,
    vanishedMs: number,
    pollMs: number,
    closed: Promise<void>,
    opts: WaitOptions,
  ): Promise<RunOutcome> {
    const redisUrl = this.bus.opts.redisUrl;
    let last = -1;
    let lastMove = Date.now();
    /** events of the run when it was last seen live */
    let eventsSeen = 0;
    let goneSince: number | null = null;
    for (;;) {
      const poll = await within(this.poll(runId), stallMs, () => this.noAnswer(runId, stallMs));
      if (poll.outcome) return poll.outcome;
      const rec = poll.live ? poll.orchestrator : null;
      if (poll.live || poll.startPending) {
        goneSince = null;
        eventsSeen = rec?.seq ?? eventsSeen;
      } else {
        // Neither an outcome, nor the run's state, nor its start job: while a run is alive one of
        // them is in Redis (its state is written before the start job completes; the outcome is
        // written in the transaction that removes the state). Gone for a while: Redis lost it.
        goneSince ??= Date.now();
        if (Date.now() - goneSince > vanishedMs) {
          throw new RunStalledError(
            `the state of run ${runId} vanished from Redis at ${redisUrl} (after ${eventsSeen} events): ` +
              'was Redis restarted without persistence, or flushed? The run cannot finish; run it again',
          );
        }
      }
      const seq = rec?.seq ?? Math.max(last, 0);
      if (seq !== last) {
        last = seq;
        lastMove = Date.now();
        opts.onProgress?.(seq);
      } else if (Date.now() - lastMove > stallMs) {
        throw new RunStalledError(
          rec
            ? `run ${runId} made no progress for ${stallMs} ms (orchestrator or auditor not running?)`
            : `no orchestrator picked up run ${runId} within ${stallMs} ms: is the cluster running (npm run cluster)?`,
        );
      }
      await sleepUnless(pollMs, closed);
    }
  }

  private async poll(runId: string): Promise<RunLiveness & { startPending: boolean }> {
    const status = await this.runs.status(runId);
    if (status.outcome || status.live) return { ...status, startPending: false };
    // not picked up yet: the start job is still in its queue (it completes after the state is saved)
    const start = await this.bus.queue(ORCHESTRATOR_QUEUE).getJob(jobId(runId, 'start', 'run'));
    return { ...status, startPending: start !== undefined };
  }
}
