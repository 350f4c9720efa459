/** The `task` component: a process's own context, stateless, served beside the orchestrator. */
import type { Type } from '@nestjs/common';
import { Processor } from '@nestjs/bullmq';
import {
  COMPONENT_QUEUES,
  ComponentQueueProcessor,
  type ClusterConfig,
  workerOptionsOf,
} from '@mnsim/bus';
import type { Address } from '@mnsim/kernel';

/** The processor of the `task` queue, built once the config (its worker options) is loaded. */
export function taskProcessor(config: ClusterConfig): Type<ComponentQueueProcessor> {
  @Processor(COMPONENT_QUEUES.task, workerOptionsOf(config))
  class TaskProcessor extends ComponentQueueProcessor {
    protected address(): Address {
      return 'task';
    }
  }
  return TaskProcessor;
}
