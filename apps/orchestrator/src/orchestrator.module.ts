import { type DynamicModule, Module } from '@nestjs/common';
import { BusModule, type ClusterConfig } from '@mnsim/bus';
import { OrchestratorProcessor } from './orchestrator.processor.js';

@Module({})
export class OrchestratorModule {
  static forRoot(config: ClusterConfig): DynamicModule {
    return {
      module: OrchestratorModule,
      imports: [BusModule.forRoot(config, 'orchestrator')],
      providers: [OrchestratorProcessor],
    };
  }
}
