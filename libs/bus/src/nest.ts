/**
 * The Nest side of the bus, shared by the worker apps: the validated cluster config, one Bus
 * (sending, run state; closed with the application), BullMQ through @nestjs/bullmq on the
 * cluster's Redis and prefix, and the base class of every queue processor.
 */
import {
  type Type,
  type BeforeApplicationShutdown,
  type DynamicModule,
  Inject,
  Injectable,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { DiscoveryModule, DiscoveryService, ModuleRef } from '@nestjs/core';
import { BullModule, OnWorkerEvent, Processor, WorkerHost, getQueueToken } from '@nestjs/bullmq';
import type { Job, Queue, WorkerOptions } from 'bullmq';
import type { Address } from '@mnsim/kernel';
import { MnsimError } from '@mnsim/errors';
import { ComponentProcessor } from './component-processor.js';
import { queueOf } from '@mnsim/runtime';
import type { ClusterConfig } from './config.js';
import { Bus, logJobFailed, workerOptions } from './redis-bus.js';
import { type BusLogger, busLoggerOf, logConnectionErrors, workerLogger } from './logger.js';
import { startHeartbeat } from './supervision.js';
import { type AppName, type ClusterProcess, processOf } from './topology.js';

export const CLUSTER_CONFIG = Symbol('CLUSTER_CONFIG');
export const BUS_LOGGER = Symbol('BUS_LOGGER');

@Injectable()
export class BusProvider implements OnApplicationShutdown {
  readonly bus: Bus;

  constructor(
    @Inject(CLUSTER_CONFIG) readonly config: ClusterConfig,
    @Inject(BUS_LOGGER) log: BusLogger,
  ) {
    this.bus = new Bus({
      redisUrl: config.MNSIM_REDIS_URL,
      prefix: config.MNSIM_QUEUE_PREFIX,
      deadLetterLimits: {
        maxEntries: config.MNSIM_DLQ_MAX_ENTRIES,
        maxAgeMs: config.MNSIM_DLQ_MAX_AGE,
      },
      maxRunEvents: config.MNSIM_MAX_RUN_EVENTS,
      onConnectionError: logConnectionErrors(log),
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.bus.close();
  }
}

/**
 * The BullMQ worker options of every processor of a worker app, from the validated config: for
 * `@Processor(queue, workerOptionsOf(config))` in a class built once the config is loaded.
 */
export function workerOptionsOf(config: ClusterConfig): Omit<WorkerOptions, 'connection'> {
  return workerOptions({
    concurrency: config.MNSIM_CONCURRENCY,
    lockDurationMs: config.MNSIM_LOCK_DURATION_MS,
    stalledIntervalMs: config.MNSIM_STALLED_INTERVAL_MS,
  });
}

/**
 * A queue of a worker app, served by the Worker @nestjs/bullmq creates for it: `process()` runs
 * the bus's job handling (dead-letter queue, dropped runs) around the subclass's `handle`, and the
 * worker's failures are logged as Bus.serve logs them. Subclasses add `@Processor(queue, options)`.
 */
export abstract class QueueProcessor extends WorkerHost implements BeforeApplicationShutdown {
  constructor(
    @Inject(BusProvider) protected readonly busProvider: BusProvider,
    @Inject(BUS_LOGGER) protected readonly log: BusLogger,
  ) {
    super();
  }

  protected abstract handle(name: string, data: unknown, job: Job): Promise<void>;

  process(job: Job): Promise<void> {
    return this.busProvider.bus.processJob(
      this.worker.name,
      job,
      (name, data, j) => this.handle(name, data, j),
      this.log,
    );
  }

  @OnWorkerEvent('failed')
  onFailed(job: Job | undefined, err: Error): void {
    logJobFailed(this.log, this.worker.name, job, err);
  }

  /** Its connection's errors, mostly: one line per message and quiet period, not one per retry. */
  @OnWorkerEvent('error')
  onError(err: Error): void {
    this.busProvider.bus.reportConnectionError(err, this.worker.name);
  }

  /**
   * Jobs in flight finish before the bus and the store close (onApplicationShutdown);
   * @nestjs/bullmq's own close of the worker afterwards is a no-op. With Redis out of reach, no
   * job can finish (its end is a write to Redis) and BullMQ's close would wait for its fetch loop,
   * which waits for Redis, for ever: it closes at once instead, and the jobs it held are taken
   * again from their expired locks once Redis is back, as after a crash.
   */
  async beforeApplicationShutdown(): Promise<void> {
    const reachable = this.busProvider.bus.redis.status === 'ready';
    await this.worker.close(!reachable);
  }
}

/**
 * A component queue (mm, oom, task, kvm:<arch>) served with the shared ComponentProcessor
 * (libs/bus -> libs/kernel): each app says only which address it serves.
 */
export abstract class ComponentQueueProcessor extends QueueProcessor {
  private readonly served: Address = this.address();
  private readonly component = new ComponentProcessor(
    this.busProvider.bus,
    [this.served],
    this.log,
  );

  /** Called once, while the processor is constructed. */
  protected abstract address(): Address;

  protected handle(name: string, data: unknown): Promise<void> {
    return this.component.handle(this.served, name, data);
  }
}

/**
 * The processor of one component address's queue. @Processor takes the queue name and worker
 * options when the class is declared, and both are known only once the config is loaded (kvm's
 * queue is KVM_ARCH's), so each app has its class declared here, at start.
 */
export function componentQueueProcessor(
  address: Address,
  config: ClusterConfig,
): Type<ComponentQueueProcessor> {
  @Processor(queueOf(address), workerOptionsOf(config))
  class Served extends ComponentQueueProcessor {
    protected address(): Address {
      return address;
    }
  }
  // a name that says which queue, for Nest's messages
  Object.defineProperty(Served, 'name', { value: `ComponentQueueProcessor(${address})` });
  return Served;
}

/** The queue processors of the app (its Workers). */
function queueProcessors(discovery: DiscoveryService): QueueProcessor[] {
  return discovery
    .getProviders()
    .map((wrapper) => wrapper.instance as unknown)
    .filter((p): p is QueueProcessor => p instanceof QueueProcessor);
}

/** The process this app runs as, in the cluster's topology (its queues). */
const CLUSTER_PROCESS = Symbol('CLUSTER_PROCESS');

/**
 * At start, every queue the topology gives this process has a processor, and no processor serves
 * a queue that is not its own: otherwise the app stops before serving anything, naming the queue
 * (a queue nobody handles would leave every run that needs it to time out). Then it logs
 * "serving" once the Worker of every queue processor is connected. The app does not wait for
 * that: with Redis away at start, the api still listens (its /health says Redis is down, its
 * queries of the store answer) and every app's Workers connect once Redis is back.
 */
@Injectable()
class ServingLog implements OnApplicationBootstrap {
  constructor(
    @Inject(DiscoveryService) private readonly discovery: DiscoveryService,
    @Inject(ModuleRef) private readonly moduleRef: ModuleRef,
    @Inject(BusProvider) private readonly bus: BusProvider,
    @Inject(CLUSTER_CONFIG) private readonly config: ClusterConfig,
    @Inject(CLUSTER_PROCESS) private readonly process: ClusterProcess,
    @Inject(BUS_LOGGER) private readonly log: BusLogger,
  ) {}

  onApplicationBootstrap(): void {
    const processors = queueProcessors(this.discovery);
    checkServed(
      this.process,
      processors.map((p) => p.worker.name),
    );
    // The Queue each processor's module registered (BullModule.registerQueue) has connections of
    // its own: without a listener BullMQ prints every retry's error as a stack trace while Redis
    // is away, outside the one-JSON-object-a-line log.
    for (const p of processors) {
      const queue = this.moduleRef.get<Queue>(getQueueToken(p.worker.name), { strict: false });
      queue.on('error', (err: Error) => this.bus.bus.reportConnectionError(err, p.worker.name));
    }
    Promise.all(processors.map((p) => p.worker.waitUntilReady())).then(
      () =>
        this.log('info', 'serving', {
          queues: processors.map((p) => p.worker.name),
          prefix: this.config.MNSIM_QUEUE_PREFIX,
        }),
      // a Worker closed before it connected (the app stopped while Redis was away)
      (err: unknown) =>
        this.log('warn', 'not serving', {
          reason: err instanceof Error ? err.message : String(err),
        }),
    );
  }
}

/** An app whose processors are not the queues the topology gives it. */
export class UnservedQueueError extends MnsimError {
  constructor(message: string) {
    super(message, 'config');
  }
}

/** Throws UnservedQueueError unless `served` are exactly the process's queues. */
export function checkServed(process: ClusterProcess, served: readonly string[]): void {
  const own = process.queues.map((q) => q.queue);
  const missing = own.filter((q) => !served.includes(q));
  const foreign = served.filter((q) => !own.includes(q));
  if (missing.length > 0) {
    throw new UnservedQueueError(
      `${process.name}: no processor handles its queue${missing.length > 1 ? 's' : ''} ` +
        `${missing.map((q) => `"${q}"`).join(', ')} (the topology gives it ${own.join(', ')})`,
    );
  }
  if (foreign.length > 0) {
    throw new UnservedQueueError(
      `${process.name}: a processor serves ${foreign.map((q) => `"${q}"`).join(', ')}, ` +
        `not its queue in the topology (${own.join(', ')})`,
    );
  }
}

/**
 * With MNSIM_HEARTBEAT_FILE set (docker-compose.yml sets it), the file is touched every few
 * seconds while every Worker of the app runs and the bus's Redis connection answers a PING: the
 * container's health check reads its age. Removed first thing on shutdown.
 */
@Injectable()
class Heartbeat implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private stop: (() => Promise<void>) | null = null;

  constructor(
    @Inject(DiscoveryService) private readonly discovery: DiscoveryService,
    @Inject(CLUSTER_CONFIG) private readonly config: ClusterConfig,
    @Inject(BusProvider) private readonly busProvider: BusProvider,
  ) {}

  onApplicationBootstrap(): void {
    const file = this.config.MNSIM_HEARTBEAT_FILE;
    if (!file) return;
    const processors = queueProcessors(this.discovery);
    const redis = this.busProvider.bus.redis;
    this.stop = startHeartbeat(
      file,
      async () =>
        redis.status === 'ready' &&
        processors.every((p) => p.worker.isRunning()) &&
        (await redis.ping()) === 'PONG',
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.stop?.();
  }
}

@Module({})
export class BusModule {
  /**
   * The bus of a worker app, and the queues the topology gives it (`app`, of KVM_ARCH for kvm),
   * registered here. The app provides a QueueProcessor subclass for each, decorated with
   * `@Processor(name, workerOptionsOf(config))`; one missing stops the app at start.
   */
  static forRoot(config: ClusterConfig, app: AppName): DynamicModule {
    const log: BusLogger = busLoggerOf(workerLogger(app));
    const process = processOf(app, config.KVM_ARCH ?? null);
    return {
      module: BusModule,
      global: true,
      imports: [
        DiscoveryModule,
        BullModule.forRoot({
          // each Worker opens its own connections with these (bullmq closes them with it)
          connection: {
            url: config.MNSIM_REDIS_URL,
            maxRetriesPerRequest: null,
            // ioredis's default, as on the Bus's own connection: reconnect within 2 s of Redis
            // coming back
            retryStrategy: (times: number) => Math.min(times * 50, 2000),
          },
          prefix: config.MNSIM_QUEUE_PREFIX,
        }),
        // what makes @nestjs/bullmq create the Workers of the app's processors
        BullModule.registerQueue(...process.queues.map((q) => ({ name: q.queue }))),
      ],
      providers: [
        { provide: CLUSTER_CONFIG, useValue: config },
        { provide: CLUSTER_PROCESS, useValue: process },
        { provide: BUS_LOGGER, useValue: log },
        BusProvider,
        ServingLog,
        Heartbeat,
      ],
      exports: [CLUSTER_CONFIG, BUS_LOGGER, BusProvider],
    };
  }
}
