import { type DynamicModule, Module } from '@nestjs/common';
import { BusModule, type ClusterConfig } from '@mnsim/bus';
import { openStore } from '@mnsim/store';
import { AUDIT_STORE, auditorProcessor } from './auditor.processor.js';
import { StaleRunSweep } from './stale-run-sweep.js';

@Module({})
export class AuditorModule {
  static forRoot(config: ClusterConfig): DynamicModule {
    return {
      module: AuditorModule,
      imports: [BusModule.forRoot(config, 'auditor')],
      providers: [
        {
          provide: AUDIT_STORE,
          useFactory: () =>
            openStore({
              url: config.MNSIM_DATABASE_URL,
              schema: config.MNSIM_DATABASE_SCHEMA,
              applicationName: 'mnsim-auditor',
            }),
        },
        auditorProcessor(config),
        StaleRunSweep,
      ],
    };
  }
}
