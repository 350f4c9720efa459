/** The oom-killer worker: the oom component (out_of_memory, the oom_reaper). */
import type { Type } from '@nestjs/common';
import { Processor } from '@nestjs/bullmq';
import {
  COMPONENT_QUEUES,
  ComponentQueueProcessor,
  type ClusterConfig,
  workerOptionsOf,
} from '@mnsim/bus';
import type { Address } from '@mnsim/kernel';

/** The processor of the `oom` queue, built once the config (its worker options) is loaded. */
export function oomKillerProcessor(config: ClusterConfig): Type<ComponentQueueProcessor> {
  @Processor(COMPONENT_QUEUES.oom, workerOptionsOf(config))
  class OomKillerProcessor extends ComponentQueueProcessor {
    protected address(): Address {
      return 'oom';
    }
  }
  return OomKillerProcessor;
}
