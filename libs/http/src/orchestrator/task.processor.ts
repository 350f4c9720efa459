/** The `task` component: a process's own context, stateless, served beside the orchestrator. */
import type { Type } from '@nestjs/common';
import {
  type ClusterConfig,
  type ComponentQueueProcessor,
  componentQueueProcessor,
} from '@mnsim/bus';

/** The processor of the `task` queue, built once the config (its worker options) is loaded. */
export function taskProcessor(config: ClusterConfig): Type<ComponentQueueProcessor> {
  return componentQueueProcessor('task', config);
}
