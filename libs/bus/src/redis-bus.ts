/**
 * BullMQ on Redis: the queues of one prefix, sending persisted outboxes, the per-run state the
 * workers keep in Redis, and the handling of a served job that moves malformed messages to the
 * dead-letter queue.
 */
import {
  FlowProducer,
  Queue,
  Worker,
  type FlowJob,
  type Job,
  type JobsOptions,
  MetricsTime,
  type WorkerOptions,
} from 'bullmq';
import { Redis } from 'ioredis';
import { MalformedMessageError, RetryLaterError } from '@mnsim/runtime';
import {
  DEFAULT_DEAD_LETTER_LIMITS,
  DeadLetterQueue,
  type DeadLetterLimits,
} from './dead-letters.js';
import { RunStateGoneError, runClosedChannel } from './run-state.js';
import type { BusLogger } from './logger.js';

export interface BusOptions {
  redisUrl: string;
  /** BullMQ key prefix and the prefix of every key mnsim keeps; one per cluster (or per test) */
  prefix: string;
  /**
   * Told of a connection error of the bus's own connection and queues (they retry on their own),
   * and of those reported to it (reportConnectionError: a served queue's, with its name); at most
   * once per queue and distinct message in CONNECTION_ERROR_QUIET_MS. Default: one line on stderr.
   */
  onConnectionError?: (err: Error, queue?: string) => void;
  /** the dead-letter queue's cap (MNSIM_DLQ_MAX_ENTRIES, MNSIM_DLQ_MAX_AGE); default 10,000, 7 d */
  deadLetterLimits?: Partial<DeadLetterLimits>;
  /**
   * the orchestrator fails a run whose log passed this many events, at the end of the chain that
   * passed it (MNSIM_MAX_RUN_EVENTS); default DEFAULT_RUN_LIMITS.maxEvents
   */
  maxRunEvents?: number;
}

/** A connection error repeats with every retry: the same message is reported again after this. */
export const CONNECTION_ERROR_QUIET_MS = 10_000;

export interface WorkerSettings {
  concurrency: number;
  log: BusLogger;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
}

/** A queue's message handler: the job's name and data (the job itself for its id). */
export type JobHandler = (name: string, data: unknown, job: Job) => Promise<void>;

/**
 * How long a worker's lock on a job lasts (BullMQ renews it every quarter of this while the job
 * runs), and how often the workers look for jobs whose lock expired (once per interval per queue,
 * whichever worker comes first; a job is taken over at the first check that finds it still active
 * and unlocked after one that saw it active). A killed worker's job is taken over at most a lock
 * plus two intervals after the kill: 6 s here, instead of BullMQ's 30 s plus 60 s; the bench's
 * recovery part measures it (distributed.recoverySecs). What it costs: a job held longer than a
 * quarter of the lock has its lock renewed (one script per worker per second for all it holds;
 * mnsim's hops take milliseconds, so almost none is ever renewed), and each queue gets one
 * stalled check a second (one script over its active jobs: a dozen scripts a second for the
 * cluster, against thousands of hops). A worker whose event loop stalls for longer than the lock
 * loses its job to another, which is safe (every hop is idempotent) but wasted work.
 */
export const DEFAULT_LOCK_DURATION_MS = 4_000;
export const DEFAULT_STALLED_INTERVAL_MS = 1_000;

/** The BullMQ settings of every mnsim worker, whoever creates it (Bus.serve or @nestjs/bullmq). */
export function workerOptions(
  settings: Omit<WorkerSettings, 'log'>,
): Omit<WorkerOptions, 'connection'> {
  return {
    concurrency: settings.concurrency,
    // a killed worker's jobs are taken over once their lock expires: keep that short
    lockDuration: settings.lockDurationMs ?? DEFAULT_LOCK_DURATION_MS,
    stalledInterval: settings.stalledIntervalMs ?? DEFAULT_STALLED_INTERVAL_MS,
    maxStalledCount: 1000,
    // per-queue completed/failed counts for the API's /metrics (Queue.getMetrics)
    metrics: { maxDataPoints: MetricsTime.ONE_WEEK },
  };
}

/** A worker's `failed` event: a retry to come is info, anything else an error. */
export function logJobFailed(
  log: BusLogger,
  queueName: string,
  job: Job | undefined,
  err: Error,
): void {
  log(err instanceof RetryLaterError ? 'info' : 'error', 'job failed', {
    queue: queueName,
    jobId: job?.id,
    name: job?.name,
    attempt: job?.attemptsMade,
    reason: err.message,
  });
}

/** A client's watch on one run: the auditor's announcement that it closed the run. */
export interface RunClosedWatch {
  /** settles once the subscription is in place: an announcement after that is not missed */
  ready: Promise<void>;
  /** resolves when the run is announced closed */
  closed: Promise<void>;
  cancel(): void;
}

export const DEFAULT_JOB_OPTIONS = {
  removeOnComplete: true,
  removeOnFail: { count: 1000 },
  attempts: 5,
  backoff: { type: 'exponential', delay: 100 },
} as const;

/**
 * A job as the transport carries it, whatever its protocol: the runtime's OutboxJob (whose name
 * types its message) is one; the bench's raw ceiling sends its own.
 */
export interface TransportJob {
  queue: string;
  name: string;
  jobId: string;
  data: unknown;
  /** attempts with a fixed 200 ms backoff, in place of the default */
  attempts?: number;
}

/** BullMQ's options for an outbox job: its id, and its own attempts if it has them. */
function jobOptions(j: TransportJob): JobsOptions {
  return {
    ...DEFAULT_JOB_OPTIONS,
    jobId: j.jobId,
    ...(j.attempts ? { attempts: j.attempts, backoff: { type: 'fixed', delay: 200 } } : {}),
  };
}

export class Bus {
  readonly redis: Redis;
  private readonly queues = new Map<string, Queue>();
  private readonly workers: Worker[] = [];
  private readonly workerConnections: Redis[] = [];
  /** adds an outbox's jobs, whatever their queues, in one MULTI: one write per hop */
  private readonly producer: FlowProducer;

  private readonly errorsReported = new Map<string, number>();

  /** One subscriber connection for every watched run, made on first use. */
  private subscriber: Redis | null = null;
  private subscribed: Promise<void> = Promise.resolve();
  private readonly closeWatchers = new Map<string, Set<() => void>>();
  /** what runs on this bus's connection and stops before it closes (the chain watchdog) */
  private readonly beforeClose: Array<() => Promise<void>> = [];
  /** where malformed messages go, capped; `mnsim dlq` reads and empties it */
  readonly deadLetters: DeadLetterQueue;

  constructor(readonly opts: BusOptions) {
    this.redis = new Redis(opts.redisUrl, {
      maxRetriesPerRequest: null,
      lazyConnect: false,
      // The commands of every job a worker has in hand (state saves, job adds, reads) issued in
      // one turn of the event loop go out in one write: on a loaded worker with dozens of jobs in
      // flight that is fewer syscalls and fewer wake-ups of Redis per hop. Not on the BullMQ
      // workers' own connections (blocking commands), nor on the subscriber.
      enableAutoPipelining: true,
    });
    // without a listener ioredis prints every retry's error with its stack
    this.redis.on('error', (err: Error) => this.connectionError(err));
    this.producer = new FlowProducer({ connection: this.redis, prefix: opts.prefix });
    this.producer.on('error', (err: Error) => this.connectionError(err));
    this.deadLetters = new DeadLetterQueue((name) => this.queue(name), {
      maxEntries: opts.deadLetterLimits?.maxEntries ?? DEFAULT_DEAD_LETTER_LIMITS.maxEntries,
      maxAgeMs: opts.deadLetterLimits?.maxAgeMs ?? DEFAULT_DEAD_LETTER_LIMITS.maxAgeMs,
    });
  }

  private connectionError(err: Error): void {
    this.reportConnectionError(err);
  }

  /**
   * A connection error, of this bus's connections or of a queue served beside it (`queue`): told
   * to onConnectionError once per queue and message in CONNECTION_ERROR_QUIET_MS, since every
   * retry of every connection repeats it while Redis is away.
   */
  reportConnectionError(err: Error, queue?: string): void {
    const key = `${queue ?? ''}\u0000${err.message}`;
    const now = Date.now();
    const last = this.errorsReported.get(key);
    if (last !== undefined && now - last < CONNECTION_ERROR_QUIET_MS) return;
    this.errorsReported.set(key, now);
    if (this.opts.onConnectionError) this.opts.onConnectionError(err, queue);
    else {
      const where = queue ? ` (queue ${queue})` : '';
      process.stderr.write(
        `mnsim: Redis at ${this.opts.redisUrl}${where}: ${err.message} (retrying)\n`,
      );
    }
  }

  /**
   * A connection of its own to the bus's Redis, for a subscriber or a BullMQ worker: without the
   * command connection's auto-pipelining (their commands block).
   */
  private ownConnection(): Redis {
    return this.redis.duplicate({ maxRetriesPerRequest: null, enableAutoPipelining: false });
  }

  key(...parts: string[]): string {
    return [this.opts.prefix, ...parts].join(':');
  }

  queue(name: string): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, {
        connection: this.redis,
        prefix: this.opts.prefix,
        defaultJobOptions: DEFAULT_JOB_OPTIONS,
      });
      q.on('error', (err: Error) => this.connectionError(err));
      this.queues.set(name, q);
    }
    return q;
  }

  /**
   * Adds every job of an outbox in one transaction (a flow of leaf jobs: plain jobs of their
   * queues); job ids make a re-sent outbox a no-op while the jobs exist. A single job, what most
   * hops send, is added by its queue: one script, without the MULTI and EXEC around it.
   */
  async send(outbox: readonly TransportJob[]): Promise<void> {
    if (outbox.length === 0) return;
    if (outbox.length === 1) {
      const [j] = outbox;
      await this.queue(j.queue).add(j.name, j.data, jobOptions(j));
      return;
    }
    const jobs: FlowJob[] = outbox.map((j) => ({
      name: j.name,
      queueName: j.queue,
      data: j.data,
      opts: jobOptions(j),
    }));
    await this.producer.addBulk(jobs);
  }

  /**
   * Watches for the auditor's announcement that `runId` is closed (RunStateRepository.close
   * publishes it), so a waiting client learns the outcome at once without polling hard.
   */
  watchRunClosed(runId: string): RunClosedWatch {
    if (!this.subscriber) {
      const sub = this.ownConnection();
      sub.on('error', (err: Error) => this.connectionError(err));
      sub.on('message', (_channel: string, closedRunId: string) => {
        const watchers = this.closeWatchers.get(closedRunId);
        this.closeWatchers.delete(closedRunId);
        for (const notify of watchers ?? []) notify();
      });
      this.subscriber = sub;
      this.subscribed = sub.subscribe(runClosedChannel(this.opts.prefix)).then(() => undefined);
      // awaited by each watch's caller; never an unhandled rejection when none is waiting
      this.subscribed.catch(() => undefined);
    }
    let notify!: () => void;
    const closed = new Promise<void>((resolve) => (notify = resolve));
    const watchers = this.closeWatchers.get(runId) ?? new Set<() => void>();
    watchers.add(notify);
    this.closeWatchers.set(runId, watchers);
    return {
      ready: this.subscribed,
      closed,
      cancel: () => {
        const set = this.closeWatchers.get(runId);
        set?.delete(notify);
        if (set?.size === 0) this.closeWatchers.delete(runId);
      },
    };
  }

  /**
   * Serves a queue on a BullMQ Worker of this bus (the in-process clusters of the tests; the
   * worker apps serve theirs through @nestjs/bullmq, with the same `processJob`, options and logs).
   */
  serve(queueName: string, handle: JobHandler, opts: WorkerSettings): Worker {
    // a connection of its own (BullMQ does not close one it is given: close() does)
    const connection = this.ownConnection();
    this.workerConnections.push(connection);
    const worker = new Worker(
      queueName,
      (job: Job) => this.processJob(queueName, job, handle, opts.log),
      {
        connection,
        prefix: this.opts.prefix,
        ...workerOptions(opts),
      },
    );
    worker.on('failed', (job, err) => logJobFailed(opts.log, queueName, job, err));
    worker.on('error', (err) => this.reportConnectionError(err, queueName));
    this.workers.push(worker);
    return worker;
  }

  /**
   * One job of a served queue. `handle` gets the job's name and data; a MalformedMessageError
   * moves the job to the dead-letter queue with the reason (one log line) and the worker keeps
   * serving; a RunStateGoneError (the run is closed, or Redis lost it) drops the message with one
   * log line; any other error fails the attempt and BullMQ retries it.
   */
  async processJob(queueName: string, job: Job, handle: JobHandler, log: BusLogger): Promise<void> {
    try {
      await handle(job.name, job.data, job);
    } catch (err) {
      if (err instanceof RunStateGoneError) {
        log('warn', 'message for a run whose state is gone dropped', {
          queue: queueName,
          jobId: job.id,
          name: job.name,
          runId: err.runId,
        });
        return;
      }
      if (!(err instanceof MalformedMessageError)) throw err;
      await this.deadLetter(queueName, job, err.message);
      log('warn', 'malformed message moved to the dead-letter queue', {
        queue: queueName,
        jobId: job.id,
        name: job.name,
        reason: err.message,
      });
    }
  }

  private async deadLetter(queueName: string, job: Job, reason: string): Promise<void> {
    await this.deadLetters.add({
      queue: queueName,
      jobId: job.id ?? null,
      name: job.name,
      data: job.data as unknown,
      reason,
    });
  }

  /** Runs `stop` first when the bus closes: for what uses its connection on its own time. */
  onClose(stop: () => Promise<void>): void {
    this.beforeClose.push(stop);
  }

  async close(): Promise<void> {
    await Promise.all(this.beforeClose.splice(0).map((stop) => stop()));
    await Promise.all(this.workers.map((w) => w.close()));
    for (const c of this.workerConnections.splice(0)) c.disconnect();
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    await this.producer.close();
    this.subscriber?.disconnect();
    this.redis.disconnect();
  }
}
