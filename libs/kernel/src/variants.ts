/**
 * The three kernel variants and the only place that knows what the two patches change.
 *
 * - "5.8": before the series.
 * - "5.8+flags": patch 1, fdfe7cbd5880 "KVM: Pass MMU notifier range flags to
 *   kvm_unmap_hva_range()": the range flags reach the arch handler; no arch acts on them.
 * - "5.8+fix": patch 1 and patch 2, b5331379bc62 "KVM: arm64: Only reschedule if
 *   MMU_NOTIFIER_RANGE_BLOCKABLE is not set": arm64 reschedules only when the range may block.
 */
import type { KernelVariant } from './model/scenario.js';

export interface Variant {
  name: KernelVariant;
  /** patch 1: kvm_mmu_notifier_invalidate_range_start() passes range->flags on */
  passesRangeFlags: boolean;
  /** patch 2: kvm_unmap_hva_handler() -> __unmap_stage2_range(..., may_block) */
  arm64ReschedOnlyIfBlockable: boolean;
  /** the cond_resched_lock() line in arch/arm64/kvm/mmu.c (394 at 5.8; 395 in patched 5.8.y) */
  arm64CondReschedLine: number;
  /** init_utsname()->release and ->version as a build of that tree prints them */
  release: string;
  version: string;
}

const VARIANTS: Record<KernelVariant, Variant> = {
  '5.8': {
    name: '5.8',
    passesRangeFlags: false,
    arm64ReschedOnlyIfBlockable: false,
    arm64CondReschedLine: 394,
    release: '5.8.0',
    version: '#1',
  },
  '5.8+flags': {
    name: '5.8+flags',
    passesRangeFlags: true,
    arm64ReschedOnlyIfBlockable: false,
    arm64CondReschedLine: 394,
    release: '5.8.0-00001-gfdfe7cbd5880',
    version: '#1',
  },
  '5.8+fix': {
    name: '5.8+fix',
    passesRangeFlags: true,
    arm64ReschedOnlyIfBlockable: true,
    arm64CondReschedLine: 395,
    release: '5.8.0-00002-gb5331379bc62',
    version: '#1',
  },
};

export function variantOf(name: KernelVariant): Variant {
  return VARIANTS[name];
}
