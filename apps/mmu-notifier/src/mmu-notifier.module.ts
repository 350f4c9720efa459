import { type DynamicModule, Module } from '@nestjs/common';
import { BullModule } from '@nestjs/bullmq';
import { BusModule, type ClusterConfig } from '@mnsim/bus';
import { COMPONENT_QUEUES } from '@mnsim/runtime';
import { mmuNotifierProcessor } from './mmu-notifier.processor.js';

@Module({})
export class MmuNotifierModule {
  static forRoot(config: ClusterConfig): DynamicModule {
    return {
      module: MmuNotifierModule,
      imports: [
        BusModule.forRoot(config, 'mmu-notifier'),
        BullModule.registerQueue({ name: COMPONENT_QUEUES.mm }),
      ],
      providers: [mmuNotifierProcessor(config)],
    };
  }
}
