/**
 * The api's orchestrator (design.md: apps/api is the HTTP API and the orchestrator): it drives
 * each run's steps in virtual time and serves the stateless `task` component, on the cluster's
 * queues. Imported by the ApiModule when the api is given a cluster to orchestrate.
 */
import { type DynamicModule, Module } from '@nestjs/common';
import { BusModule, type ClusterConfig } from '@mnsim/bus';
import { orchestratorProcessor } from './orchestrator.processor.js';
import { taskProcessor } from './task.processor.js';

@Module({})
export class OrchestratorModule {
  static forRoot(config: ClusterConfig): DynamicModule {
    return {
      module: OrchestratorModule,
      imports: [BusModule.forRoot(config, 'api')],
      providers: [orchestratorProcessor(config), taskProcessor(config)],
    };
  }
}
