import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { type BusLogger, StaleRunSweeper } from '@mnsim/bus';
import type { Store } from '@mnsim/store';
import { InjectStore } from './store.provider.js';

/** Injection token of MNSIM_RUN_TIMEOUT in ms (ApiConfig.runTimeoutMs). */
export const RUN_TIMEOUT_MS = Symbol('mnsim.runTimeoutMs');

/**
 * Runs are never orphaned: while the api runs, the runs its store holds that have shown no sign
 * of life for MNSIM_RUN_TIMEOUT end failed (StaleRunSweeper, @mnsim/bus), one log line each. It
 * stops before the store closes.
 */
@Injectable()
export class StaleRunSweep implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('mnsim-api');
  readonly sweeper: StaleRunSweeper;

  constructor(@InjectStore() store: Store, @Inject(RUN_TIMEOUT_MS) runTimeoutMs: number) {
    const log: BusLogger = (level, msg, fields) => {
      const args: unknown[] = fields === undefined ? [] : [fields];
      if (level === 'info') this.logger.log(msg, ...args);
      else if (level === 'warn') this.logger.warn(msg, ...args);
      else this.logger.error(msg, ...args);
    };
    this.sweeper = new StaleRunSweeper(store, log, { runTimeoutMs });
  }

  onApplicationBootstrap(): void {
    this.sweeper.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.sweeper.stop();
  }
}
