/** The kvm worker: the KVM of one architecture (KVM_ARCH), its queue only. */
import type { Type } from '@nestjs/common';
import {
  type ClusterConfig,
  type ComponentQueueProcessor,
  componentQueueProcessor,
} from '@mnsim/bus';
import type { Arch } from '@mnsim/kernel';

/** The architecture this process serves; the config was validated with KVM_ARCH required. */
export function kvmArchOf(config: ClusterConfig): Arch {
  return config.KVM_ARCH ?? 'arm64';
}

/** The processor of the KVM_ARCH queue: its name, like its worker options, is known at start. */
export function kvmProcessor(config: ClusterConfig): Type<ComponentQueueProcessor> {
  return componentQueueProcessor(`kvm:${kvmArchOf(config)}`, config);
}
