/**
 * The Nest side of the bus, shared by the worker apps: the validated cluster config and one Bus
 * (closed with the application), as injectable providers.
 */
import {
  Inject,
  Injectable,
  Module,
  type DynamicModule,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Address } from '@mnsim/kernel';
import { ComponentProcessor } from './component-processor.js';
import type { ClusterConfig } from './config.js';
import { Bus, type WorkerSettings } from './redis-bus.js';
import { type BusLogger, busLoggerOf, workerLogger } from './logger.js';

export const CLUSTER_CONFIG = Symbol('CLUSTER_CONFIG');
export const BUS_LOGGER = Symbol('BUS_LOGGER');

@Injectable()
export class BusProvider implements OnApplicationShutdown {
  readonly bus: Bus;

  constructor(@Inject(CLUSTER_CONFIG) readonly config: ClusterConfig) {
    this.bus = new Bus({ redisUrl: config.MNSIM_REDIS_URL, prefix: config.MNSIM_QUEUE_PREFIX });
  }

  /** The worker settings every processor uses. */
  get settings(): Omit<WorkerSettings, 'log'> {
    return {
      concurrency: this.config.MNSIM_CONCURRENCY,
      lockDurationMs: this.config.MNSIM_LOCK_DURATION_MS,
      stalledIntervalMs: this.config.MNSIM_STALLED_INTERVAL_MS,
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.bus.close();
  }
}

@Module({})
export class BusModule {
  static forRoot(config: ClusterConfig, service: string): DynamicModule {
    const log: BusLogger = busLoggerOf(workerLogger(service));
    return {
      module: BusModule,
      global: true,
      providers: [
        { provide: CLUSTER_CONFIG, useValue: config },
        { provide: BUS_LOGGER, useValue: log },
        BusProvider,
      ],
      exports: [CLUSTER_CONFIG, BUS_LOGGER, BusProvider],
    };
  }
}

/**
 * A worker serving component queues with the shared ComponentProcessor (libs/bus -> libs/kernel):
 * each app says only which addresses it serves.
 */
export abstract class ComponentWorker implements OnApplicationBootstrap {
  constructor(
    @Inject(BusProvider) protected readonly busProvider: BusProvider,
    @Inject(CLUSTER_CONFIG) protected readonly config: ClusterConfig,
    @Inject(BUS_LOGGER) protected readonly log: BusLogger,
  ) {}

  protected abstract addresses(): Address[];

  onApplicationBootstrap(): void {
    const addresses = this.addresses();
    new ComponentProcessor(this.busProvider.bus, addresses, this.log).start(
      this.busProvider.settings,
    );
    this.log('info', 'serving', { addresses, prefix: this.config.MNSIM_QUEUE_PREFIX });
  }
}
