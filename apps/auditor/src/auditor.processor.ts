/** The auditor worker: event batches into the store (Postgres), runs closed with their logHash. */
import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import {
  AuditorProcessor as Auditor,
  BUS_LOGGER,
  BusProvider,
  CLUSTER_CONFIG,
  type BusLogger,
  type ClusterConfig,
} from '@mnsim/bus';
import { openStore, type Store } from '@mnsim/store';

@Injectable()
export class AuditorProcessor implements OnApplicationBootstrap, OnApplicationShutdown {
  private store: Store | null = null;

  constructor(
    @Inject(BusProvider) private readonly busProvider: BusProvider,
    @Inject(CLUSTER_CONFIG) private readonly config: ClusterConfig,
    @Inject(BUS_LOGGER) private readonly log: BusLogger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.store = await openStore({
      url: this.config.MNSIM_DATABASE_URL,
      schema: this.config.MNSIM_DATABASE_SCHEMA,
    });
    new Auditor(this.busProvider.bus, this.store, this.log).start(this.busProvider.settings);
    this.log('info', 'serving', { queue: 'auditor', prefix: this.config.MNSIM_QUEUE_PREFIX });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.store?.close();
  }
}
