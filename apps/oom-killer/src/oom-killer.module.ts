import { type DynamicModule, Module } from '@nestjs/common';
import { BusModule, type ClusterConfig } from '@mnsim/bus';
import { oomKillerProcessor } from './oom-killer.processor.js';

@Module({})
export class OomKillerModule {
  static forRoot(config: ClusterConfig): DynamicModule {
    return {
      module: OomKillerModule,
      imports: [BusModule.forRoot(config, 'oom-killer')],
      providers: [oomKillerProcessor(config)],
    };
  }
}
