import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import {
  BUS_LOGGER,
  type BusLogger,
  CLUSTER_CONFIG,
  type ClusterConfig,
  StaleRunSweeper,
} from '@mnsim/bus';
import { DEFAULT_RUN_TIMEOUT_MS } from '@mnsim/config';
import type { Store } from '@mnsim/store';
import { AUDIT_STORE } from './auditor.processor.js';

/**
 * Runs are never orphaned: the auditor, which has the store, fails the runs that have shown no
 * sign of life for MNSIM_RUN_TIMEOUT (StaleRunSweeper), as the api does; the store fails each
 * once whoever sweeps. It stops before the processor closes the store.
 */
@Injectable()
export class StaleRunSweep implements OnApplicationBootstrap, BeforeApplicationShutdown {
  readonly sweeper: StaleRunSweeper;

  constructor(
    @Inject(AUDIT_STORE) store: Store,
    @Inject(BUS_LOGGER) log: BusLogger,
    @Inject(CLUSTER_CONFIG) config: ClusterConfig,
  ) {
    this.sweeper = new StaleRunSweeper(store, log, {
      runTimeoutMs: config.MNSIM_RUN_TIMEOUT ?? DEFAULT_RUN_TIMEOUT_MS,
    });
  }

  onApplicationBootstrap(): void {
    this.sweeper.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.sweeper.stop();
  }
}
