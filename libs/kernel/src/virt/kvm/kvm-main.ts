/**
 * virt/kvm/kvm_main.c at 5.8 (reference §4): the kvm component of one architecture. VM creation
 * (kvm_create_vm, kvm_init_mmu_notifier, the memslots), the vCPU fault that populates stage-2,
 * the MMU-notifier callbacks (_start with mmu_lock held around the arch's
 * kvm_unmap_hva_range(), _end, ->invalidate_range, ->release) and the arch part of teardown.
 */
import {
  type ExecContext,
  LOCK,
  frame,
  lockAcquire,
  lockRelease,
  spinLock,
  spinUnlock,
} from '../../kernel/context.js';
import type { Sys } from '../../kernel/sys.js';
import { addRange } from '../../lib/interval-set.js';
import type { Arch, VmSpec } from '../../model/scenario.js';
import type { MmuNotifierRange } from '../../mm/range.js';
import * as arm64 from '../../arch/arm64/kvm/mmu.js';
import * as x86 from '../../arch/x86/kvm/mmu.js';
import * as mips from '../../arch/mips/kvm/mmu.js';
import * as book3s from '../../arch/powerpc/kvm/book3s.js';
import * as e500 from '../../arch/powerpc/kvm/e500.js';
import type { KvmComponentState, KvmVm, Memslot } from './types.js';

export function newKvmState(arch: Arch): KvmComponentState {
  return { arch, vms: [] };
}

export function findVm(state: KvmComponentState, name: string): KvmVm | undefined {
  return state.vms.find((v) => v.name === name);
}

/** The VM named `name`, unless kvm_arch_destroy_vm() ran for it. */
export function liveVm(state: KvmComponentState, name: string): KvmVm | null {
  const vm = findVm(state, name);
  return vm && !vm.destroyed ? vm : null;
}

/**
 * kvm_arch_mmu_notifier-facing arch dispatch: kvm_unmap_hva_range() of each architecture.
 * Returns need_flush. `flags` is undefined before patch 1 (the argument does not exist).
 */
function archUnmapHvaRange(
  ctx: ExecContext,
  sys: Sys,
  vm: KvmVm,
  start: number,
  end: number,
  flags: number | undefined,
): boolean {
  switch (sys.host.arch) {
    case 'arm64':
      return arm64.kvmUnmapHvaRange(ctx, sys, vm, start, end, flags);
    case 'x86':
      return x86.kvmUnmapHvaRange(ctx, sys, vm, start, end);
    case 'mips':
      return mips.kvmUnmapHvaRange(ctx, sys, vm, start, end);
    case 'powerpc-book3s-hv':
      return book3s.kvmUnmapHvaRange(ctx, sys, vm, start, end, 'hv');
    case 'powerpc-book3s-pr':
      return book3s.kvmUnmapHvaRange(ctx, sys, vm, start, end, 'pr');
    case 'powerpc-e500':
      return e500.kvmUnmapHvaRange(ctx, sys, vm, start);
  }
}

/** kvm_arch_flush_shadow_all(), from ->release. */
function archFlushShadowAll(ctx: ExecContext, sys: Sys, vm: KvmVm): void {
  frame(ctx, 'kvm_arch_flush_shadow_all', () => {
    switch (sys.host.arch) {
      case 'arm64':
        return arm64.kvmFreeStage2Pgd(ctx, sys, vm);
      case 'x86':
        return x86.kvmMmuZapAll(ctx, vm);
      case 'mips':
        return mips.kvmMipsFlushShadowAll(ctx, vm);
      default:
        // powerpc: an empty function at 5.8; the tables go with the VM
        return;
    }
  });
}

function archFaultFrames(arch: Arch): readonly string[] {
  switch (arch) {
    case 'arm64':
      return arm64.ARM64_FAULT_FRAMES;
    case 'x86':
      return x86.X86_FAULT_FRAMES;
    case 'mips':
      return mips.MIPS_FAULT_FRAMES;
    case 'powerpc-book3s-hv':
      return book3s.BOOK3S_FAULT_FRAMES.hv;
    case 'powerpc-book3s-pr':
      return book3s.BOOK3S_FAULT_FRAMES.pr;
    case 'powerpc-e500':
      return e500.E500_FAULT_FRAMES;
  }
}

/**
 * KVM_CREATE_VM then KVM_SET_USER_MEMORY_REGION per memslot: kvm_create_vm() registers the
 * notifier on current->mm (kvm_init_mmu_notifier -> mmu_notifier_register).
 */
export function kvmCreateVm(
  ctx: ExecContext,
  sys: Sys,
  state: KvmComponentState,
  pid: number,
  spec: VmSpec,
): void {
  frame(ctx, 'kvm_dev_ioctl', () =>
    frame(ctx, 'kvm_dev_ioctl_create_vm', () =>
      frame(ctx, 'kvm_create_vm', () => {
        const pageSize = sys.host.pageSize;
        const memslots: Memslot[] = spec.memslots
          .map((m, id) => ({
            id,
            baseGfn: m.gpa / pageSize,
            npages: m.size / pageSize,
            userspaceAddr: m.hva,
          }))
          // update_memslots() keeps the array sorted by base_gfn, highest first
          .sort((a, b) => b.baseGfn - a.baseGfn);
        state.vms.push({
          name: spec.name,
          pid,
          ipaBits: sys.host.arch === 'arm64' ? spec.ipaBits : 64,
          memslots,
          mapped: [],
          mmuNotifierCount: 0,
          mmuNotifierSeq: 0,
          tlbsDirty: 0,
          destroyed: false,
          tlbFlushes: 0,
          condReschedChecks: 0,
        });
        frame(ctx, 'kvm_init_mmu_notifier', () =>
          sys.call(ctx, 'mm', 'mmu_notifier_register', { pid, vm: spec.name }),
        );
      }),
    ),
  );
}

/**
 * The guest touches all of its memory: one stage-2 fault per memslot, each populating the host
 * pages with get_user_pages and mapping the memslot. While an invalidation is in progress
 * (mmu_notifier_count > 0, e.g. after a failed non-blocking start that never got its _end)
 * mmu_notifier_retry() makes every fault retry: nothing gets mapped.
 */
export function kvmFaultIn(
  ctx: ExecContext,
  sys: Sys,
  state: KvmComponentState,
  name: string,
): void {
  const vm = liveVm(state, name);
  if (!vm || vm.mapped === null) {
    sys.trace(ctx, 'kvm_fault_in', { skipped: 'vm destroyed', vm: name });
    return;
  }
  const frames = archFaultFrames(sys.host.arch);
  for (const f of frames) ctx.stack.push(f);
  try {
    for (const slot of vm.memslots) {
      const size = slot.npages * sys.host.pageSize;
      const gpa = slot.baseGfn * sys.host.pageSize;
      if (vm.mmuNotifierCount > 0) {
        sys.trace(ctx, 'mmu_notifier_retry', {
          mmuNotifierCount: vm.mmuNotifierCount,
          slot: slot.id,
          vm: name,
        });
        continue;
      }
      const gup = sys.call(ctx, 'mm', 'get_user_pages', {
        end: slot.userspaceAddr + size,
        pid: vm.pid,
        start: slot.userspaceAddr,
      });
      spinLock(ctx, LOCK.kvmMmuLock);
      if (vm.mapped !== null && gup.backed > 0) addRange(vm.mapped, gpa, gpa + size);
      spinUnlock(ctx, LOCK.kvmMmuLock);
      sys.trace(ctx, 'kvm_fault_in', {
        gpa,
        populated: gup.populated,
        size,
        slot: slot.id,
        vm: name,
      });
    }
  } finally {
    ctx.stack.length -= frames.length;
  }
}

/** kvm_mmu_notifier_invalidate_range_start() (≈ line 416 at 5.8). KVM never fails it. */
export function kvmMmuNotifierInvalidateRangeStart(
  ctx: ExecContext,
  sys: Sys,
  state: KvmComponentState,
  name: string,
  range: MmuNotifierRange,
): number {
  return frame(ctx, 'kvm_mmu_notifier_invalidate_range_start', () => {
    const vm = liveVm(state, name);
    if (!vm) return 0;
    lockAcquire(ctx, LOCK.kvmSrcu);
    spinLock(ctx, LOCK.kvmMmuLock);
    vm.mmuNotifierCount++;
    // 5.8: kvm_unmap_hva_range(kvm, range->start, range->end)
    // patch 1: kvm_unmap_hva_range(kvm, range->start, range->end, range->flags)
    const flags = sys.variant.passesRangeFlags ? range.flags : undefined;
    let needFlush = archUnmapHvaRange(ctx, sys, vm, range.start, range.end, flags);
    needFlush ||= vm.tlbsDirty !== 0;
    if (needFlush) kvmFlushRemoteTlbs(ctx, vm);
    spinUnlock(ctx, LOCK.kvmMmuLock);
    lockRelease(ctx, LOCK.kvmSrcu);
    sys.trace(ctx, 'kvm_mmu_notifier_invalidate_range_start', {
      end: range.end,
      mmuNotifierCount: vm.mmuNotifierCount,
      needFlush,
      start: range.start,
      vm: name,
    });
    return 0;
  });
}

/** kvm_flush_remote_tlbs(): a hyp TLBI on arm64, requests/IPIs elsewhere; never sleeps. */
function kvmFlushRemoteTlbs(ctx: ExecContext, vm: KvmVm): void {
  frame(ctx, 'kvm_flush_remote_tlbs', () => {
    vm.tlbFlushes++;
  });
}

/**
 * ->invalidate_range (kvm_mmu_notifier_invalidate_range: only x86 does anything, for the
 * APIC-access page, which mnsim does not model) then ->invalidate_range_end; `endOnly`, the
 * latter alone (c2655835fd8c's pairing after a failed start calls only ->invalidate_range_end).
 */
export function kvmMmuNotifierInvalidateRangeEnd(
  ctx: ExecContext,
  sys: Sys,
  state: KvmComponentState,
  name: string,
  range: MmuNotifierRange,
  endOnly = false,
): void {
  const vm = liveVm(state, name);
  if (!vm) return;
  if (!endOnly) {
    frame(ctx, 'kvm_mmu_notifier_invalidate_range', () => {
      lockAcquire(ctx, LOCK.kvmSrcu);
      frame(ctx, 'kvm_arch_mmu_notifier_invalidate_range', () => undefined);
      lockRelease(ctx, LOCK.kvmSrcu);
    });
  }
  frame(ctx, 'kvm_mmu_notifier_invalidate_range_end', () => {
    spinLock(ctx, LOCK.kvmMmuLock);
    vm.mmuNotifierSeq++;
    vm.mmuNotifierCount--;
    spinUnlock(ctx, LOCK.kvmMmuLock);
    // BUG_ON(kvm->mmu_notifier_count < 0)
    if (vm.mmuNotifierCount < 0) throw new Error(`kernel BUG: ${name} mmu_notifier_count < 0`);
    sys.trace(ctx, 'kvm_mmu_notifier_invalidate_range_end', {
      end: range.end,
      mmuNotifierCount: vm.mmuNotifierCount,
      start: range.start,
      vm: name,
    });
  });
}

/** kvm_mmu_notifier_release(): from exit_mmap's mmu_notifier_release or from unregister. */
export function kvmMmuNotifierRelease(
  ctx: ExecContext,
  sys: Sys,
  state: KvmComponentState,
  name: string,
): void {
  frame(ctx, 'kvm_mmu_notifier_release', () => {
    const vm = liveVm(state, name);
    if (!vm) return;
    lockAcquire(ctx, LOCK.kvmSrcu);
    archFlushShadowAll(ctx, sys, vm);
    lockRelease(ctx, LOCK.kvmSrcu);
  });
}

/** kvm_arch_destroy_vm() and kvm_free_memslots(), after mmu_notifier_unregister(). */
export function kvmArchDestroyVm(
  ctx: ExecContext,
  sys: Sys,
  state: KvmComponentState,
  name: string,
): boolean {
  return frame(ctx, 'kvm_arch_destroy_vm', () => {
    const vm = liveVm(state, name);
    if (!vm) return false;
    vm.destroyed = true;
    vm.mapped = null;
    vm.memslots = [];
    sys.trace(ctx, 'kvm_destroy_vm', { vm: name });
    return true;
  });
}
