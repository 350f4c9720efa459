/** The oom-killer worker: serves its queue with the shared component processor (libs/bus → libs/kernel). */
import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import {
  BUS_LOGGER,
  BusProvider,
  CLUSTER_CONFIG,
  ComponentProcessor,
  type BusLogger,
  type ClusterConfig,
} from '@mnsim/bus';
import type { Address } from '@mnsim/kernel';

@Injectable()
export class OomKillerProcessor implements OnApplicationBootstrap {
  constructor(
    @Inject(BusProvider) private readonly busProvider: BusProvider,
    @Inject(CLUSTER_CONFIG) private readonly config: ClusterConfig,
    @Inject(BUS_LOGGER) private readonly log: BusLogger,
  ) {}

  onApplicationBootstrap(): void {
    const addresses: Address[] = ['oom'];
    new ComponentProcessor(this.busProvider.bus, addresses, this.log).start(
      this.busProvider.settings,
    );
    this.log('info', 'serving', { addresses, prefix: this.config.MNSIM_QUEUE_PREFIX });
  }
}
