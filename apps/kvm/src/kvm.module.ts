import { type DynamicModule, Module } from '@nestjs/common';
import { BusModule, type ClusterConfig } from '@mnsim/bus';
import { kvmProcessor } from './kvm.processor.js';

@Module({})
export class KvmModule {
  static forRoot(config: ClusterConfig): DynamicModule {
    return {
      module: KvmModule,
      imports: [BusModule.forRoot(config, 'kvm')],
      providers: [kvmProcessor(config)],
    };
  }
}
