/**
 * arch/arm64/kvm/mmu.c at 5.8 (reference §5.1): the stage-2 geometry of
 * asm/stage2_pgtable.h, unmap_stage2_range() with its cond_resched_lock() at every PGD-entry
 * boundary (line 394, the site of the BUG), kvm_unmap_hva_range() and kvm_free_stage2_pgd().
 * The walk visits PGD entries, not pages: a mapped range is one interval however large.
 */
import { type ExecContext, LOCK, frame, spinLock, spinUnlock } from '../../../kernel/context.js';
import { condReschedLock } from '../../../kernel/sched/might-sleep.js';
import type { Sys } from '../../../kernel/sys.js';
import { overlaps, removeRange } from '../../../lib/interval-set.js';
import { MMU_NOTIFIER_RANGE_BLOCKABLE } from '../../../mm/range.js';
import { memslotOverlaps } from '../../../virt/kvm/memslots.js';
import type { KvmVm } from '../../../virt/kvm/types.js';

export const MMU_C = 'arch/arm64/kvm/mmu.c';

export interface Stage2Geometry {
  pageSize: number;
  ipaBits: number;
  levels: number;
  /** stage2_pgdir_shift */
  pgdirShift: number;
  /** bytes one stage-2 PGD entry maps */
  pgdirSize: number;
  /** stage2_pgd_ptrs */
  pgdPtrs: number;
}

/**
 * ARM64_HW_PGTABLE_LEVELS(va) = (va - 4) / (PAGE_SHIFT - 3);
 * stage2_pgtable_levels(ipa) = ARM64_HW_PGTABLE_LEVELS(ipa - 4), at least 2 (concatenated
 * entry-level tables resolve up to 4 extra bits);
 * stage2_pgdir_shift = ARM64_HW_PGTABLE_LEVEL_SHIFT(4 - levels) = (PAGE_SHIFT - 3) * levels + 3.
 */
export function stage2Geometry(pageSize: number, ipaBits: number): Stage2Geometry {
  const pageShift = Math.log2(pageSize);
  const levels = Math.max(2, Math.floor((ipaBits - 4 - 4) / (pageShift - 3)));
  const pgdirShift = (pageShift - 3) * levels + 3;
  const pgdPtrs = pgdirShift >= ipaBits ? 1 : 2 ** (ipaBits - pgdirShift);
  return { pageSize, ipaBits, levels, pgdirShift, pgdirSize: 2 ** pgdirShift, pgdPtrs };
}

/** stage2_pgd_addr_end(kvm, addr, end) */
export function stage2PgdAddrEnd(addr: number, end: number, pgdirSize: number): number {
  const boundary = (Math.floor(addr / pgdirSize) + 1) * pgdirSize;
  return boundary - 1 < end - 1 ? boundary : end;
}

/** How many cond_resched_lock() checks one call on [gpa, gpa+size) makes (reference §5.1). */
export function stage2Checks(gpa: number, size: number, pgdirSize: number): number {
  return Math.floor((gpa + size - 1) / pgdirSize) - Math.floor(gpa / pgdirSize);
}

/**
 * unmap_stage2_range(kvm, start, size) at 5.8, and after patch 2 __unmap_stage2_range(kvm,
 * start, size, may_block). Caller holds kvm->mmu_lock. unmap_stage2_p4ds() frees tables that
 * become empty, so a PGD entry is "none" exactly when nothing under it is mapped.
 */
function unmapStage2RangeBody(
  ctx: ExecContext,
  sys: Sys,
  vm: KvmVm,
  start: number,
  size: number,
  mayBlock: boolean,
): void {
  const geo = stage2Geometry(sys.host.pageSize, vm.ipaBits);
  const S = geo.pgdirSize;
  const end = start + size;
  const gated = sys.variant.arm64ReschedOnlyIfBlockable;
  const line = sys.variant.arm64CondReschedLine;
  let addr = start;
  let entries = 0;
  let checks = 0;
  let unmapped = 0;
  do {
    // if (!READ_ONCE(kvm->arch.pgd)) break;
    if (vm.mapped === null) break;
    const next = stage2PgdAddrEnd(addr, end, S);
    entries++;
    // if (!stage2_pgd_none(kvm, *pgd)) unmap_stage2_p4ds(kvm, pgd, addr, next);
    if (overlaps(vm.mapped, addr, next)) unmapped += removeRange(vm.mapped, addr, next);
    // 5.8: if (next != end)   after patch 2: if (may_block && next != end)
    if ((!gated || mayBlock) && next !== end) {
      checks++;
      // for lockdep's lines: the locks held are this kvm's and kvm->mm's mmap_lock (the OOM
      // reaper holds the reaped mm's, not its own)
      condReschedLock(ctx, sys, MMU_C, line, { kvm: vm.name, mm: vm.pid });
    }
    addr = next;
  } while (addr !== end);
  vm.condReschedChecks += checks;
  sys.trace(ctx, 'unmap_stage2_range', {
    checks,
    entries,
    gpa: start,
    mayBlock,
    pgdirSize: S,
    size,
    unmapped,
  });
}

/** unmap_stage2_range(): every caller but the notifier path; always may block. */
export function unmapStage2Range(
  ctx: ExecContext,
  sys: Sys,
  vm: KvmVm,
  start: number,
  size: number,
): void {
  frame(ctx, 'unmap_stage2_range', () => {
    if (sys.variant.arm64ReschedOnlyIfBlockable) {
      frame(ctx, '__unmap_stage2_range', () =>
        unmapStage2RangeBody(ctx, sys, vm, start, size, true),
      );
    } else {
      unmapStage2RangeBody(ctx, sys, vm, start, size, true);
    }
  });
}

/** kvm_unmap_hva_handler(kvm, gpa, size, data): static, inlined into kvm_unmap_hva_range. */
function kvmUnmapHvaHandler(
  ctx: ExecContext,
  sys: Sys,
  vm: KvmVm,
  gpa: number,
  size: number,
  flags: number | undefined,
): void {
  frame(ctx, 'kvm_unmap_hva_handler', () => {
    if (sys.variant.arm64ReschedOnlyIfBlockable) {
      // patch 2: may_block = *(unsigned *)data & MMU_NOTIFIER_RANGE_BLOCKABLE
      const mayBlock = ((flags ?? 0) & MMU_NOTIFIER_RANGE_BLOCKABLE) !== 0;
      frame(ctx, '__unmap_stage2_range', () =>
        unmapStage2RangeBody(ctx, sys, vm, gpa, size, mayBlock),
      );
    } else {
      // 5.8 and 5.8+flags: the flags are not looked at
      frame(ctx, 'unmap_stage2_range', () => unmapStage2RangeBody(ctx, sys, vm, gpa, size, true));
    }
  });
}

/**
 * kvm_unmap_hva_range(kvm, start, end[, flags]): handle_hva_to_gpa() calls the handler once per
 * overlapping memslot, in IPA space. Returns 0, so kvm_main flushes only if tlbs_dirty.
 */
export function kvmUnmapHvaRange(
  ctx: ExecContext,
  sys: Sys,
  vm: KvmVm,
  start: number,
  end: number,
  flags: number | undefined,
): boolean {
  return frame(ctx, 'kvm_unmap_hva_range', () => {
    if (vm.mapped === null) return false;
    frame(ctx, 'handle_hva_to_gpa', () => {
      for (const o of memslotOverlaps(vm, start, end, sys.host.pageSize)) {
        kvmUnmapHvaHandler(ctx, sys, vm, o.gpa, o.hvaEnd - o.hvaStart, flags);
      }
    });
    return false;
  });
}

/**
 * kvm_free_stage2_pgd(kvm), from kvm_arch_flush_shadow_all() (notifier ->release): the whole
 * IPA space under mmu_lock, blockable, then the PGD is gone.
 */
export function kvmFreeStage2Pgd(ctx: ExecContext, sys: Sys, vm: KvmVm): void {
  frame(ctx, 'kvm_free_stage2_pgd', () => {
    if (vm.mapped === null) return;
    spinLock(ctx, LOCK.kvmMmuLock);
    unmapStage2Range(ctx, sys, vm, 0, 2 ** vm.ipaBits);
    vm.mapped = null;
    spinUnlock(ctx, LOCK.kvmMmuLock);
  });
}

/** The vCPU stage-2 fault path down to the host page lookup. */
export const ARM64_FAULT_FRAMES = [
  'kvm_vcpu_ioctl',
  'kvm_arch_vcpu_ioctl_run',
  'handle_exit',
  'kvm_handle_guest_abort',
  'user_mem_abort',
  'gfn_to_pfn_prot',
  '__gfn_to_pfn_memslot',
  'hva_to_pfn',
];
