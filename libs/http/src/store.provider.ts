import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { Store } from '@mnsim/store';

/** Injection token of the one Store the API serves from (opened before the app, closed with it). */
export const STORE = Symbol('mnsim.store');

/** `@InjectStore() private readonly store: Store` */
export const InjectStore = (): ParameterDecorator => Inject(STORE);

/** Closes the store when the application shuts down (app.close(), SIGINT, SIGTERM). */
@Injectable()
export class StoreLifecycle implements OnApplicationShutdown {
  constructor(@InjectStore() private readonly store: Store) {}

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }
}
