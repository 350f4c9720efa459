/**
 * What a waiting client watches besides its runs: whether the cluster can still finish them. One
 * watch serves every run a client has in flight (a campaign of thousands costs one round of
 * checks per interval, not one per run). It gives up, with one line that names what is missing,
 * when
 *  - a queue the runs need has had no worker for `missingWorkerMs`: long enough for a supervisor
 *    (npm run cluster, a container's restart policy) to bring a crashed worker back, short enough
 *    that a stopped cluster is noticed well within the run timeout;
 *  - Redis has not answered for as long;
 *  - none of the runs moved for `runTimeoutMs` (MNSIM_RUN_TIMEOUT), though every queue is served.
 * The chain timeout (ChainWatchdog) fails one stuck run while the others move; this is the
 * client's bound when nothing moves at all.
 */
import { MnsimError } from '@mnsim/errors';
import type { Arch } from '@mnsim/kernel';
import { DEFAULT_RUN_TIMEOUT_MS } from '@mnsim/config';
import type { Bus } from './redis-bus.js';
import { CLUSTER_APPS, serverOf } from './topology.js';

/** A queue without a worker for this long (at most half the run timeout) gives up. */
export const DEFAULT_MISSING_WORKER_MS = 20_000;
const DEFAULT_CHECK_MS = 1_000;

/** The cluster cannot finish the runs a client waits for: the message says what is missing. */
export class ClusterStalledError extends MnsimError {
  constructor(message: string) {
    super(message, 'unavailable');
  }
}

export interface ClusterWatchOptions {
  /** none of the runs moved for this long: give up (default DEFAULT_RUN_TIMEOUT_MS) */
  runTimeoutMs?: number;
  /** a needed queue without a worker, or Redis silent, for this long: give up */
  missingWorkerMs?: number;
  /** how often the workers are counted (default 1 s) */
  checkMs?: number;
}

/**
 * The queues the runs of these arches need, in the cluster's table's order: those of every app
 * that is not per arch, then the per-arch apps' of each of these arches (sorted).
 */
export function runQueues(arches: Iterable<Arch>): string[] {
  const sorted = [...new Set(arches)].sort();
  return CLUSTER_APPS.flatMap((app) =>
    app.perArch ? sorted.flatMap((arch) => app.queues(arch)) : app.queues,
  ).map((q) => q.queue);
}

/** Of `queues`, those no worker serves right now, in the order given. */
export async function unservedQueues(bus: Bus, queues: readonly string[]): Promise<string[]> {
  const counts = await Promise.all(queues.map((q) => bus.queue(q).getWorkersCount()));
  return queues.filter((_, i) => counts[i] === 0);
}

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** What each queue's workers are, in the words of a user who has to start them (topology.ts). */
export function whoServes(queue: string): string {
  return serverOf(queue)?.absent ?? 'no process of the cluster serves it';
}

export class ClusterWatch {
  readonly runTimeoutMs: number;
  readonly missingWorkerMs: number;
  /** rejects with ClusterStalledError once the cluster can no longer finish the runs */
  readonly stalled: Promise<never>;
  private rejectStalled!: (err: ClusterStalledError) => void;
  private tripped: ClusterStalledError | null = null;
  /** runs waited for, with their arch when known (it decides the kvm queue they need) */
  private readonly runs = new Map<string, Arch | null>();
  private lastProgress = Date.now();
  /** when Redis last answered a check */
  private lastAnswer = Date.now();
  private readonly missingSince = new Map<string, number>();
  private checking = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly bus: Bus,
    opts: ClusterWatchOptions = {},
  ) {
    this.runTimeoutMs = opts.runTimeoutMs ?? DEFAULT_RUN_TIMEOUT_MS;
    // a missing worker is named before the run timeout gives up without knowing why
    this.missingWorkerMs = Math.min(
      opts.missingWorkerMs ?? DEFAULT_MISSING_WORKER_MS,
      this.runTimeoutMs / 2,
    );
    this.stalled = new Promise<never>((_, reject) => (this.rejectStalled = reject));
    // awaited by the waits; never an unhandled rejection when none is waiting
    this.stalled.catch(() => undefined);
    this.timer = setInterval(() => this.tick(), opts.checkMs ?? DEFAULT_CHECK_MS);
    this.timer.unref();
  }

  /** Why the watch gave up, once it has. */
  get error(): ClusterStalledError | null {
    return this.tripped;
  }

  get inFlight(): number {
    return this.runs.size;
  }

  /** How long since one of the runs last moved (0 while none is waited for). */
  sinceProgressMs(): number {
    return this.runs.size === 0 ? 0 : Date.now() - this.lastProgress;
  }

  /** A run to watch over; its arch names the kvm queue it needs. */
  track(runId: string, arch: Arch | null = null): void {
    // nothing was waited for: the clock of progress starts now, not at the last run's end
    if (this.runs.size === 0) this.lastProgress = Date.now();
    if (arch !== null || !this.runs.has(runId)) this.runs.set(runId, arch);
  }

  untrack(runId: string): void {
    this.runs.delete(runId);
  }

  /** One of the runs moved (its events advanced, or it closed). */
  moved(): void {
    this.lastProgress = Date.now();
  }

  close(): void {
    clearInterval(this.timer);
  }

  private trip(reason: string): void {
    if (this.tripped) return;
    const n = this.runs.size;
    this.tripped = new ClusterStalledError(
      `the cluster cannot finish ${n} run${n === 1 ? '' : 's'} in flight: ${reason}`,
    );
    this.close();
    this.rejectStalled(this.tripped);
  }

  private tick(): void {
    if (this.tripped) return;
    const now = Date.now();
    if (this.runs.size === 0) {
      this.missingSince.clear();
      this.lastAnswer = now;
      return;
    }
    if (now - this.lastAnswer > this.missingWorkerMs) {
      return this.trip(
        `Redis at ${this.bus.opts.redisUrl} has not answered for ${secs(now - this.lastAnswer)}`,
      );
    }
    if (now - this.lastProgress > this.runTimeoutMs) {
      const missing = [...this.missingSince.entries()][0];
      return this.trip(
        missing
          ? this.missingReason(missing[0], now - missing[1])
          : `none of them moved for ${secs(now - this.lastProgress)} (MNSIM_RUN_TIMEOUT), though every queue they need has a worker`,
      );
    }
    if (this.checking) return; // the last check still waits for Redis
    this.checking = true;
    this.countWorkers()
      .catch(() => undefined) // Redis is away: lastAnswer stays behind and says so
      .finally(() => (this.checking = false));
  }

  private async countWorkers(): Promise<void> {
    const arches = [...this.runs.values()].filter((a): a is Arch => a !== null);
    const queues = runQueues(arches);
    const unserved = new Set(await unservedQueues(this.bus, queues));
    const now = Date.now();
    this.lastAnswer = now;
    let overdue = false;
    for (const queue of queues) {
      if (!unserved.has(queue)) {
        this.missingSince.delete(queue);
        continue;
      }
      const since = this.missingSince.get(queue) ?? now;
      this.missingSince.set(queue, since);
      if (now - since > this.missingWorkerMs) overdue = true;
    }
    if (overdue) {
      // Name the first missing queue in the run's order (the orchestrator's first), not the one
      // whose worker Redis happened to see go first: when the whole cluster stopped, their
      // connections close a few milliseconds apart, and the reason must not depend on that.
      const queue = queues.find((q) => unserved.has(q)) ?? '';
      this.trip(this.missingReason(queue, now - (this.missingSince.get(queue) ?? now)));
    }
  }

  private missingReason(queue: string, forMs: number): string {
    return `${whoServes(queue)}: nothing has served queue "${queue}" (prefix ${this.bus.opts.prefix}) for ${secs(forMs)}; start the cluster with \`npm run cluster\` or \`docker compose up\``;
  }
}
