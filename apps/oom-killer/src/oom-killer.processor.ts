/** The oom-killer worker: the oom component (out_of_memory, the oom_reaper). */
import type { Type } from '@nestjs/common';
import {
  type ClusterConfig,
  type ComponentQueueProcessor,
  componentQueueProcessor,
} from '@mnsim/bus';

/** The processor of the `oom` queue, built once the config (its worker options) is loaded. */
export function oomKillerProcessor(config: ClusterConfig): Type<ComponentQueueProcessor> {
  return componentQueueProcessor('oom', config);
}
