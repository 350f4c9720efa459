/**
 * The orchestrator: drives each run's stimuli in virtual time (RunScheduler), one chain per run in
 * flight. The app also serves the stateless `task` component (task.processor.ts).
 */
import type { OnApplicationBootstrap, Type } from '@nestjs/common';
import { Processor } from '@nestjs/bullmq';
import {
  ChainWatchdog,
  OrchestratorProcessor as Orchestrator,
  QueueProcessor,
  type ClusterConfig,
  workerOptionsOf,
} from '@mnsim/bus';
import { ORCHESTRATOR_QUEUE } from '@mnsim/runtime';

/** The processor of the `orchestrator` queue, built once the config (its worker options) is loaded. */
export function orchestratorProcessor(config: ClusterConfig): Type<QueueProcessor> {
  @Processor(ORCHESTRATOR_QUEUE, workerOptionsOf(config))
  class OrchestratorProcessor extends QueueProcessor implements OnApplicationBootstrap {
    private readonly orchestrator = new Orchestrator(this.busProvider.bus, this.log);

    /** The chain timeouts: swept until the bus closes at shutdown. */
    onApplicationBootstrap(): void {
      new ChainWatchdog(this.busProvider.bus, this.log).start();
    }

    protected handle(name: string, data: unknown): Promise<void> {
      return this.orchestrator.handle(name, data);
    }
  }
  return OrchestratorProcessor;
}
