import { type DynamicModule, Module } from '@nestjs/common';
import { BusModule, type ClusterConfig } from '@mnsim/bus';
import { mmuNotifierProcessor } from './mmu-notifier.processor.js';

@Module({})
export class MmuNotifierModule {
  static forRoot(config: ClusterConfig): DynamicModule {
    return {
      module: MmuNotifierModule,
      imports: [BusModule.forRoot(config, 'mmu-notifier')],
      providers: [mmuNotifierProcessor(config)],
    };
  }
}
