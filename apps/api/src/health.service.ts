import { Injectable, ServiceUnavailableException } from '@nestjs/common';
import type { Store } from '@mnsim/store';
import { InjectStore } from './store.provider.js';

@Injectable()
export class HealthService {
  constructor(@InjectStore() private readonly store: Store) {}

  /** healthy when the store answers a query (the cheapest one it has: one run, by index) */
  async check(): Promise<{ status: 'ok'; store: string }> {
    try {
      await this.store.listRuns({ limit: 1 });
    } catch {
      throw new ServiceUnavailableException('the store does not answer');
    }
    return { status: 'ok', store: this.store.dialect };
  }
}
