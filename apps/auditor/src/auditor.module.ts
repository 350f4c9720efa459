import { type DynamicModule, Module } from '@nestjs/common';
import { BusModule, type ClusterConfig } from '@mnsim/bus';
import { AuditorProcessor } from './auditor.processor.js';

@Module({})
export class AuditorModule {
  static forRoot(config: ClusterConfig): DynamicModule {
    return {
      module: AuditorModule,
      imports: [BusModule.forRoot(config, 'auditor')],
      providers: [AuditorProcessor],
    };
  }
}
