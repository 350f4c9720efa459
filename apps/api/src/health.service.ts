import { Injectable, ServiceUnavailableException } from '@nestjs/common';
import { type Store, StoreGoneError } from '@mnsim/store';
import { InjectStore } from './store.provider.js';

@Injectable()
export class HealthService {
  constructor(@InjectStore() private readonly store: Store) {}

  /**
   * Healthy when the store answers a query (the cheapest one it has: one run, by index) and its
   * database is the one it writes to: a SQLite file deleted or replaced under the api still
   * answers, from the file the connection keeps open, which no one else will ever read.
   */
  async check(): Promise<{ status: 'ok'; store: string }> {
    try {
      await this.store.listRuns({ limit: 1 });
    } catch {
      throw new ServiceUnavailableException('the store does not answer');
    }
    try {
      await this.store.checkPresent();
    } catch (err) {
      // the reason without the path: /health needs no token
      throw new ServiceUnavailableException(
        err instanceof StoreGoneError
          ? `the store's SQLite database file was ${err.replaced ? 'replaced by another file' : 'deleted or moved'} since the api opened it: what it writes is lost`
          : 'the store cannot be checked',
      );
    }
    return { status: 'ok', store: this.store.dialect };
  }
}
