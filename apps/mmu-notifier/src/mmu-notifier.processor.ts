/** The mmu-notifier worker: the mm component (mm state, the notifier chain). */
import type { Type } from '@nestjs/common';
import { Processor } from '@nestjs/bullmq';
import {
  COMPONENT_QUEUES,
  ComponentQueueProcessor,
  type ClusterConfig,
  workerOptionsOf,
} from '@mnsim/bus';
import type { Address } from '@mnsim/kernel';

/** The processor of the `mm` queue, built once the config (its worker options) is loaded. */
export function mmuNotifierProcessor(config: ClusterConfig): Type<ComponentQueueProcessor> {
  @Processor(COMPONENT_QUEUES.mm, workerOptionsOf(config))
  class MmuNotifierProcessor extends ComponentQueueProcessor {
    protected address(): Address {
      return 'mm';
    }
  }
  return MmuNotifierProcessor;
}
