/** The mmu-notifier worker: the mm component (mm state, the notifier chain). */
import type { Type } from '@nestjs/common';
import {
  type ClusterConfig,
  type ComponentQueueProcessor,
  componentQueueProcessor,
} from '@mnsim/bus';

/** The processor of the `mm` queue, built once the config (its worker options) is loaded. */
export function mmuNotifierProcessor(config: ClusterConfig): Type<ComponentQueueProcessor> {
  return componentQueueProcessor('mm', config);
}
