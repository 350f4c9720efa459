import { type DynamicModule, Module } from '@nestjs/common';
import { BullModule } from '@nestjs/bullmq';
import { BusModule, type ClusterConfig } from '@mnsim/bus';
import { kvmQueue } from '@mnsim/runtime';
import { kvmArchOf, kvmProcessor } from './kvm.processor.js';

@Module({})
export class KvmModule {
  static forRoot(config: ClusterConfig): DynamicModule {
    return {
      module: KvmModule,
      imports: [
        BusModule.forRoot(config, 'kvm'),
        BullModule.registerQueue({ name: kvmQueue(kvmArchOf(config)) }),
      ],
      providers: [kvmProcessor(config)],
    };
  }
}
