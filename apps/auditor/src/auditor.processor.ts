/** The auditor worker: event batches into the store (Postgres), runs closed with their logHash. */
import { Inject, type OnApplicationShutdown, type Type } from '@nestjs/common';
import { Processor } from '@nestjs/bullmq';
import {
  AuditorProcessor as Auditor,
  BUS_LOGGER,
  BusProvider,
  QueueProcessor,
  type BusLogger,
  type ClusterConfig,
  workerOptionsOf,
} from '@mnsim/bus';
import { AUDITOR_QUEUE } from '@mnsim/runtime';
import type { Store } from '@mnsim/store';

/** The auditor's store, opened before the worker starts. */
export const AUDIT_STORE = Symbol('AUDIT_STORE');

/** The processor of the `auditor` queue, built once the config (its worker options) is loaded. */
export function auditorProcessor(config: ClusterConfig): Type<QueueProcessor> {
  @Processor(AUDITOR_QUEUE, workerOptionsOf(config))
  class AuditorProcessor extends QueueProcessor implements OnApplicationShutdown {
    private readonly auditor: Auditor;

    constructor(
      @Inject(BusProvider) busProvider: BusProvider,
      @Inject(BUS_LOGGER) log: BusLogger,
      @Inject(AUDIT_STORE) private readonly store: Store,
    ) {
      super(busProvider, log);
      this.auditor = new Auditor(busProvider.bus, store, log);
    }

    protected handle(name: string, data: unknown): Promise<void> {
      return this.auditor.handle(name, data);
    }

    /** After beforeApplicationShutdown: the worker is closed, no job uses the store any more. */
    async onApplicationShutdown(): Promise<void> {
      await this.store.close();
    }
  }
  return AuditorProcessor;
}
