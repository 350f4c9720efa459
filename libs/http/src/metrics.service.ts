/**
 * GET /metrics: the cluster's queues in Prometheus text format -- depth by state, workers, and
 * the processed and failed counts the workers keep through BullMQ's metrics -- plus the store's
 * runs by status and the process's own metrics (prom-client's defaults). Without a cluster
 * configured (MNSIM_REDIS_URL) there are no queue families. Each value is read when scraped.
 */
import { Inject, Injectable, Logger, type OnApplicationShutdown, Optional } from '@nestjs/common';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Redis } from 'ioredis';
import { Bus, BusProvider, SERVED_QUEUES, busLoggerOf, logConnectionErrors } from '@mnsim/bus';
import { DEAD_LETTER_QUEUE } from '@mnsim/runtime';
import type { Store } from '@mnsim/store';
import { STORE } from './store.provider.js';
import { HEALTH_CHECK_TIMEOUT_MS, TimedOut, within } from './within.js';

export const CLUSTER = Symbol('CLUSTER');
export type ClusterTarget = { redisUrl: string; prefix: string } | null;

/** Every queue of the design: those the cluster's processes serve (topology.ts), the DLQ. */
export const CLUSTER_QUEUES = [...SERVED_QUEUES, DEAD_LETTER_QUEUE];

const STATES = ['waiting', 'active', 'delayed', 'failed'] as const;
const RUN_STATUSES = ['running', 'completed', 'failed'] as const;

/** One queue as a scrape reads it. */
interface QueueStats {
  queue: string;
  jobs: Record<(typeof STATES)[number], number>;
  workers: number;
  processed: number;
  failed: number;
}

/**
 * A Bus on the cluster that /metrics and /health report on (MNSIM_REDIS_URL), or null without
 * one: the api's connection to read the queues and ping Redis. An orchestrating api has one Bus
 * already (BusModule's, for the same Redis and prefix): that one is used, so that the api holds
 * one connection and logs each of its errors once; otherwise its own, closed with the application.
 */
@Injectable()
export class ClusterBus implements OnApplicationShutdown {
  readonly bus: Bus | null;
  private readonly owned: boolean;

  constructor(
    @Inject(CLUSTER) cluster: ClusterTarget,
    // explicit: a union type leaves no class in the parameter's metadata
    @Optional() @Inject(BusProvider) orchestrating: BusProvider | null = null,
  ) {
    const shared =
      cluster !== null &&
      orchestrating !== null &&
      orchestrating.config.MNSIM_REDIS_URL === cluster.redisUrl &&
      orchestrating.config.MNSIM_QUEUE_PREFIX === cluster.prefix
        ? orchestrating.bus
        : null;
    this.owned = shared === null;
    // its connection errors are logged as the app logs (one JSON object a line in the api's
    // process), once per message and quiet period, not written raw to stderr per retry
    this.bus =
      shared ??
      (cluster
        ? new Bus({
            redisUrl: cluster.redisUrl,
            prefix: cluster.prefix,
            onConnectionError: logConnectionErrors(busLoggerOf(new Logger('api'))),
          })
        : null);
  }

  async onApplicationShutdown(): Promise<void> {
    // a shared Bus is BusModule's to close
    if (this.owned) await this.bus?.close();
  }
}

@Injectable()
export class MetricsService {
  /** this api's metrics only: not prom-client's global registry, which every module may share */
  readonly registry = new Registry();
  /** the scrape in flight: the queue families of one scrape share one read of the queues */
  private queueStatsInFlight: Promise<QueueStats[]> | null = null;

  constructor(
    @Inject(STORE) store: Store,
    private readonly cluster: ClusterBus,
  ) {
    const registers = [this.registry];
    if (this.cluster.bus) {
      const bus = this.cluster.bus;
      const stats = (): Promise<QueueStats[]> => this.queueStats();
      new Gauge({
        name: 'mnsim_redis_up',
        help: "Whether the api's connection to the cluster's Redis is ready (1) or not (0); while it is not, the queue families are empty.",
        registers,
        // after the queues' read, which waits a moment for a connection still being made
        async collect() {
          await stats();
          this.set(bus.redis.status === 'ready' ? 1 : 0);
        },
      });
      new Gauge({
        name: 'mnsim_queue_jobs',
        help: 'Jobs in a queue, by state (queue depth).',
        labelNames: ['queue', 'state'] as const,
        registers,
        async collect() {
          for (const q of await stats()) {
            for (const state of STATES) this.set({ queue: q.queue, state }, q.jobs[state]);
          }
        },
      });
      new Gauge({
        name: 'mnsim_queue_workers',
        help: 'Workers connected to a queue.',
        labelNames: ['queue'] as const,
        registers,
        async collect() {
          for (const q of await stats()) this.set({ queue: q.queue }, q.workers);
        },
      });
      // Counters, though BullMQ hands over totals: they only grow, as a counter does (Prometheus's
      // rate() and the _total name expect one). prom-client's Counter cannot be set, only
      // increased, so each scrape resets it and adds the total, with no await in between.
      new Counter({
        name: 'mnsim_queue_processed_total',
        help: "Jobs a queue's workers completed.",
        labelNames: ['queue'] as const,
        registers,
        async collect() {
          const all = await stats();
          this.reset();
          for (const q of all) this.inc({ queue: q.queue }, q.processed);
        },
      });
      new Counter({
        name: 'mnsim_queue_failed_total',
        help: 'Jobs that failed on a queue (each failed attempt).',
        labelNames: ['queue'] as const,
        registers,
        async collect() {
          const all = await stats();
          this.reset();
          for (const q of all) this.inc({ queue: q.queue }, q.failed);
        },
      });
    }
    new Gauge({
      name: 'mnsim_runs',
      help: 'Runs in the store, by status.',
      labelNames: ['status'] as const,
      registers,
      async collect() {
        const counts = await store.countRuns();
        for (const status of RUN_STATUSES) this.set({ status }, counts[status]);
      },
    });
    // the process's own, after ours: event loop lag, heap, RSS, CPU, handles, GC
    collectDefaultMetrics({ register: this.registry });
  }

  /** the registry's families in Prometheus text format (Registry.PROMETHEUS_CONTENT_TYPE) */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  private queueStats(): Promise<QueueStats[]> {
    this.queueStatsInFlight ??= this.readQueues().finally(() => {
      this.queueStatsInFlight = null;
    });
    return this.queueStatsInFlight;
  }

  /**
   * Every queue's figures, once the connection to Redis is ready (an api just started is still
   * connecting); none when it is not ready within the health check's bound (a command sent on it
   * would wait for the reconnection, and the scrape with it), nor when Redis does not answer
   * within it: /metrics answers all the same, without them.
   */
  private async readQueues(): Promise<QueueStats[]> {
    const bus = this.cluster.bus!;
    const started = Date.now();
    try {
      if (!(await readyWithin(bus.redis, HEALTH_CHECK_TIMEOUT_MS))) return [];
      const left = HEALTH_CHECK_TIMEOUT_MS - (Date.now() - started);
      return await within(Math.max(left, 0), this.readReadyQueues(bus));
    } catch (err) {
      if (err instanceof TimedOut) return [];
      throw err;
    }
  }

  private readReadyQueues(bus: Bus): Promise<QueueStats[]> {
    return Promise.all(
      CLUSTER_QUEUES.map(async (queue): Promise<QueueStats> => {
        const q = bus.queue(queue);
        const [counts, workers, completed, failed] = await Promise.all([
          q.getJobCounts(...STATES),
          q.getWorkersCount(),
          q.getMetrics('completed', 0, 0),
          q.getMetrics('failed', 0, 0),
        ]);
        const jobs = Object.fromEntries(
          STATES.map((s) => [s, counts[s] ?? 0]),
        ) as QueueStats['jobs'];
        return { queue, jobs, workers, processed: completed.meta.count, failed: failed.meta.count };
      }),
    );
  }
}

/** Whether the connection is ready, or becomes so within `ms` (its errors meanwhile are retried). */
function readyWithin(redis: Redis, ms: number): Promise<boolean> {
  if (redis.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const ready = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      redis.off('ready', ready);
      resolve(false);
    }, ms);
    redis.once('ready', ready);
  });
}
