import { type DynamicModule, Module } from '@nestjs/common';
import { BullModule } from '@nestjs/bullmq';
import { BusModule, COMPONENT_QUEUES, ORCHESTRATOR_QUEUE, type ClusterConfig } from '@mnsim/bus';
import { orchestratorProcessor } from './orchestrator.processor.js';
import { taskProcessor } from './task.processor.js';

@Module({})
export class OrchestratorModule {
  static forRoot(config: ClusterConfig): DynamicModule {
    return {
      module: OrchestratorModule,
      imports: [
        BusModule.forRoot(config, 'orchestrator'),
        BullModule.registerQueue({ name: ORCHESTRATOR_QUEUE }, { name: COMPONENT_QUEUES.task }),
      ],
      providers: [orchestratorProcessor(config), taskProcessor(config)],
    };
  }
}
