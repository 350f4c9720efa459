/**
 * Submitting runs to a running cluster and waiting for their outcomes: what `mnsim run
 * --distributed` and `mnsim fuzz --distributed` use. The outcome is the auditor's (written once
 * every event is in the store); progress is the orchestrator's event cursor. While it waits, the
 * client's ClusterWatch checks that the cluster can still finish its runs; when it cannot, every
 * wait ends with the watch's ClusterStalledError, and `abandon` leaves each run to end `failed`
 * with that reason once an orchestrator is back.
 */
import type { Arch, KernelVariant, Scenario } from '@mnsim/kernel';
import { ClusterWatch, type ClusterWatchOptions } from './cluster-watch.js';
import { JOB, ORCHESTRATOR_QUEUE, jobId, type StartMessage } from '@mnsim/runtime';
import type { Bus } from './redis-bus.js';
import { RunStateRepository, type RunLiveness, type RunOutcome } from './run-state.js';

export const DEFAULT_CHAIN_TIMEOUT_MS = 30_000;

/** How long an abandon waits for Redis: the client is on its way out, Redis may be away. */
const ABANDON_WAIT_MS = 2_000;

export interface SubmitOptions {
  kernel: KernelVariant;
  seed: number;
  /** a chain that does not complete within this ends the run failed */
  timeoutMs?: number;
}

export interface WaitOptions {
  /** the run's arch, when the client did not submit it itself: the kvm queue it needs */
  arch?: Arch;
  /** events emitted so far */
  onProgress?: (events: number) => void;
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

/** The run's state vanished from Redis: this run cannot finish (the cluster may well go on). */
export class RunStalledError extends Error {}

/** Waits `ms`, or less if `early` settles first. */
async function sleepUnless(ms: number, early: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([early, new Promise((r) => (timer = setTimeout(r, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves with the promise, or with undefined after `ms`: for work that must not hold an exit. */
async function atMost(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([p.catch(() => undefined), new Promise((r) => (timer = setTimeout(r, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export class DistributedClient {
  private readonly runs: RunStateRepository;
  /** whether the cluster can still finish this client's runs */
  readonly watch: ClusterWatch;

  constructor(
    private readonly bus: Bus,
    watchOptions: ClusterWatchOptions = {},
  ) {
    this.runs = new RunStateRepository(bus.redis, bus.opts.prefix);
    this.watch = new ClusterWatch(bus, watchOptions);
  }

  /** Stops watching the cluster (the bus stays open: it is the caller's). */
  close(): void {
    this.watch.close();
  }

  async submit(runId: string, scenario: Scenario, opts: SubmitOptions): Promise<void> {
    const data: StartMessage = {
      runId,
      kernel: opts.kernel,
      seed: opts.seed,
      scenario: scenario as unknown as StartMessage['scenario'],
      timeoutMs: opts.timeoutMs ?? DEFAULT_CHAIN_TIMEOUT_MS,
    };
    this.watch.track(runId, scenario.host.arch);
    await this.bus.send([
      { queue: ORCHESTRATOR_QUEUE, name: JOB.start, jobId: jobId(runId, 'start', 'run'), data },
    ]);
  }

  /**
   * Resolves with the outcome. Throws RunStalledError when the run's state vanished from Redis
   * (restarted empty, flushed), and the watch's ClusterStalledError when the cluster can no
   * longer finish its runs (a queue without a worker, Redis silent, nothing moving).
   */
  async wait(runId: string, opts: WaitOptions = {}): Promise<RunOutcome> {
    this.watch.track(runId, opts.arch ?? null);
    const watch = this.bus.watchRunClosed(runId);
    try {
      // subscribed before the first read: a close announced after that read is not missed
      await Promise.race([watch.ready, this.watch.stalled]);
      const polling = this.waitPolling(runId, watch.closed, opts);
      // once the watch gives up, the loop ends at its next turn: its error is the watch's
      polling.catch(() => undefined);
      const outcome = await Promise.race([polling, this.watch.stalled]);
      this.watch.moved();
      return outcome;
    } finally {
      watch.cancel();
      this.watch.untrack(runId);
    }
  }

  /**
   * Leaves a run this client gives up on (the watch's reason) to end `failed` with `reason` once
   * an orchestrator is back: its start job, if still waiting, is removed (the run never starts),
   * and the orchestrator is sent a `fail` for the run it may have started (or be starting: it
   * waits for that start). Bounded: with Redis away it gives up quietly.
   */
  async abandon(runId: string, reason: string): Promise<void> {
    await atMost(
      (async () => {
        // not removed if an orchestrator holds it right now; the fail below waits for it then
        await this.bus.queue(ORCHESTRATOR_QUEUE).remove(jobId(runId, 'start', 'run'));
        await this.bus.send([
          {
            queue: ORCHESTRATOR_QUEUE,
            name: JOB.fail,
            jobId: jobId(runId, 'fail', 'client'),
            data: { runId, reason },
          },
        ]);
      })(),
      ABANDON_WAIT_MS,
    );
  }

  private async waitPolling(
    runId: string,
    closed: Promise<void>,
    opts: WaitOptions,
  ): Promise<RunOutcome> {
    const vanishedMs = opts.vanishedMs ?? 5_000;
    const pollMs = opts.pollMs ?? 250;
    const redisUrl = this.bus.opts.redisUrl;
    let last = -1;
    /** events of the run when it was last seen live */
    let eventsSeen = 0;
    let goneSince: number | null = null;
    for (;;) {
      if (this.watch.error) throw this.watch.error;
      const poll = await this.poll(runId);
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
        if (last >= 0) this.watch.moved();
        last = seq;
        opts.onProgress?.(seq);
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
