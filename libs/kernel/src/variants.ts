/**
 * The kernel variants and the only place that knows what their patches change. A variant is a
 * base plus patches, `5.8[+flags|+fix][+pair]`:
 *
 * - "5.8": before the series.
 * - "+flags": patch 1, fdfe7cbd5880 "KVM: Pass MMU notifier range flags to
 *   kvm_unmap_hva_range()": the range flags reach the arch handler; no arch acts on them.
 * - "+fix": patch 1 and patch 2, b5331379bc62 "KVM: arm64: Only reschedule if
 *   MMU_NOTIFIER_RANGE_BLOCKABLE is not set": arm64 reschedules only when the range may block.
 * - "+pair": c2655835fd8c "mm/mmu_notifiers: ensure range_end() is paired with range_start()"
 *   (v5.12-rc5, in 5.10.27): when a non-blockable start fails, mn_hlist_invalidate_range_start
 *   calls ->invalidate_range_end of every subscriber that has one, and WARNs for a failing
 *   subscriber that has one. Its release string names the upstream commit; a tree with it
 *   cherry-picked would show the pick's own hash.
 */
import { KERNEL_VARIANTS, type KernelVariant } from './model/scenario.js';

export interface Variant {
  name: KernelVariant;
  /** patch 1: kvm_mmu_notifier_invalidate_range_start() passes range->flags on */
  passesRangeFlags: boolean;
  /** patch 2: kvm_unmap_hva_handler() -> __unmap_stage2_range(..., may_block) */
  arm64ReschedOnlyIfBlockable: boolean;
  /** c2655835fd8c: a failed non-blockable start ends the subscribers that implement _end */
  pairsRangeEnd: boolean;
  /** the cond_resched_lock() line in arch/arm64/kvm/mmu.c (394 at 5.8; 395 in patched 5.8.y) */
  arm64CondReschedLine: number;
  /** init_utsname()->release and ->version as a build of that tree prints them */
  release: string;
  version: string;
}

/** The bases: 5.8 and the series' two patches. */
const BASES: Record<'5.8' | '5.8+flags' | '5.8+fix', Omit<Variant, 'name' | 'pairsRangeEnd'>> = {
  '5.8': {
    passesRangeFlags: false,
    arm64ReschedOnlyIfBlockable: false,
    arm64CondReschedLine: 394,
    release: '5.8.0',
    version: '#1',
  },
  '5.8+flags': {
    passesRangeFlags: true,
    arm64ReschedOnlyIfBlockable: false,
    arm64CondReschedLine: 394,
    release: '5.8.0-00001-gfdfe7cbd5880',
    version: '#1',
  },
  '5.8+fix': {
    passesRangeFlags: true,
    arm64ReschedOnlyIfBlockable: true,
    arm64CondReschedLine: 395,
    release: '5.8.0-00002-gb5331379bc62',
    version: '#1',
  },
};

/** The commits a base has on top of 5.8 (its release string's count). */
const BASE_COMMITS = { '5.8': 0, '5.8+flags': 1, '5.8+fix': 2 } as const;

function variant(name: KernelVariant): Variant {
  const pair = name.endsWith('+pair');
  const base = (pair ? name.slice(0, -'+pair'.length) : name) as keyof typeof BASES;
  const b = BASES[base];
  const commits = String(BASE_COMMITS[base] + 1).padStart(5, '0');
  return {
    name,
    ...b,
    pairsRangeEnd: pair,
    release: pair ? `5.8.0-${commits}-gc2655835fd8c` : b.release,
  };
}

const VARIANTS = Object.fromEntries(KERNEL_VARIANTS.map((n) => [n, variant(n)])) as Record<
  KernelVariant,
  Variant
>;

export function variantOf(name: KernelVariant): Variant {
  return VARIANTS[name];
}
