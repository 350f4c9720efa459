import { type DynamicModule, Module } from '@nestjs/common';
import { BullModule } from '@nestjs/bullmq';
import { BusModule, type ClusterConfig } from '@mnsim/bus';
import { COMPONENT_QUEUES } from '@mnsim/runtime';
import { oomKillerProcessor } from './oom-killer.processor.js';

@Module({})
export class OomKillerModule {
  static forRoot(config: ClusterConfig): DynamicModule {
    return {
      module: OomKillerModule,
      imports: [
        BusModule.forRoot(config, 'oom-killer'),
        BullModule.registerQueue({ name: COMPONENT_QUEUES.oom }),
      ],
      providers: [oomKillerProcessor(config)],
    };
  }
}
