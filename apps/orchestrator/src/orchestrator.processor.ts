/**
 * The orchestrator: drives each run's stimuli in virtual time (RunScheduler), one chain per run in
 * flight, and serves the stateless `task` component (a process's own context).
 */
import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import {
  BUS_LOGGER,
  BusProvider,
  CLUSTER_CONFIG,
  ComponentProcessor,
  OrchestratorProcessor as Orchestrator,
  type BusLogger,
  type ClusterConfig,
} from '@mnsim/bus';

@Injectable()
export class OrchestratorProcessor implements OnApplicationBootstrap {
  constructor(
    @Inject(BusProvider) private readonly busProvider: BusProvider,
    @Inject(CLUSTER_CONFIG) private readonly config: ClusterConfig,
    @Inject(BUS_LOGGER) private readonly log: BusLogger,
  ) {}

  onApplicationBootstrap(): void {
    const { bus, settings } = this.busProvider;
    new Orchestrator(bus, this.log).start(settings);
    new ComponentProcessor(bus, ['task'], this.log).start(settings);
    this.log('info', 'serving', {
      queues: ['orchestrator', 'task'],
      prefix: this.config.MNSIM_QUEUE_PREFIX,
    });
  }
}
