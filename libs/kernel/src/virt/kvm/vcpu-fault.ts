/**
 * A guest access on a vCPU that misses stage 2 (EPT/NPT on x86), as every arch's 5.8 fault path
 * takes it:
 *   1. mmu_seq = kvm->mmu_notifier_seq; smp_rmb();
 *   2. resolve the pfn: gfn_to_pfn_prot() -> hva_to_pfn(): GUP-fast if the host page is mapped,
 *      else get_user_pages(), which fails with a fatal signal pending; a pfn that does not
 *      resolve ends the fault with -EFAULT before the retry check (arm64: "if
 *      (is_error_noslot_pfn(pfn)) return -EFAULT;");
 *   3. spin_lock(&kvm->mmu_lock);
 *   4. if mmu_notifier_retry(kvm, mmu_seq) (include/linux/kvm_host.h:1149-1167: the count is
 *      raised, or the seq moved), unlock and go back to the guest, which faults again; otherwise
 *      map the page.
 * arm64 user_mem_abort (arch/arm64/kvm/mmu.c:1890-1934), x86 direct_page_fault
 * (arch/x86/kvm/mmu/mmu.c:4121-4137), mips kvm_mips_map_page (arch/mips/kvm/mmu.c:724-756, which
 * retries in the kernel rather than in the guest), book3s HV kvmppc_book3s_instantiate_page and
 * kvmppc_create_pte (book3s_64_mmu_radix.c:804-887, 612-615), e500 kvmppc_e500_shadow_map
 * (e500_mmu_host.c:342-466).
 *
 * A retry only ends when the invalidation it waits for ends. The fault's answer is `retry` and
 * the guest faults again; whoever runs the next try (a later step, or an interleaved chain)
 * needs nothing else. When no invalidation is in flight, no end will come: the count leaked
 * (a range_end that was skipped, notifier-imbalance.ts) and the vCPU retries forever, which is
 * the `guest-livelock` finding. In mnsim a chain runs alone, so no invalidation is in flight
 * while a fault's chain runs: every raised count a fault finds is one no chain will lower.
 */
import { type ExecContext, LOCK, frame, spinLock, spinUnlock } from '../../kernel/context.js';
import { silentFinding } from '../../kernel/sched/violation.js';
import type { Sys } from '../../kernel/sys.js';
import { addRange } from '../../lib/interval-set.js';
import type { Arch } from '../../model/scenario.js';
import { liveVm } from './kvm-main.js';
import type { KvmComponentState, KvmVm } from './types.js';

/** The frames from KVM_RUN to the arch's fault handler, and where it calls mmu_notifier_retry. */
interface ArchFaultPath {
  frames: readonly string[];
  /** file:line of the mmu_notifier_retry() check that sends the vCPU back */
  retrySite: string;
}

const FAULT_PATHS: Record<Arch, ArchFaultPath> = {
  arm64: {
    frames: [
      'kvm_vcpu_ioctl',
      'kvm_arch_vcpu_ioctl_run',
      'handle_exit',
      'handle_trap_exceptions',
      'kvm_handle_guest_abort',
      'user_mem_abort',
    ],
    retrySite: 'arch/arm64/kvm/mmu.c:1933',
  },
  x86: {
    frames: [
      'kvm_vcpu_ioctl',
      'kvm_arch_vcpu_ioctl_run',
      'vcpu_run',
      'vcpu_enter_guest',
      'vmx_handle_exit',
      'handle_ept_violation',
      'kvm_mmu_page_fault',
      'kvm_tdp_page_fault',
      'direct_page_fault',
    ],
    retrySite: 'arch/x86/kvm/mmu/mmu.c:4132',
  },
  mips: {
    frames: [
      'kvm_vcpu_ioctl',
      'kvm_arch_vcpu_ioctl_run',
      'kvm_mips_handle_exit',
      'kvm_trap_vz_handle_tlb_ld_miss',
      'kvm_mips_handle_vz_root_tlb_fault',
      'kvm_mips_map_page',
    ],
    retrySite: 'arch/mips/kvm/mmu.c:747',
  },
  'powerpc-book3s-hv': {
    frames: [
      'kvm_vcpu_ioctl',
      'kvm_arch_vcpu_ioctl_run',
      'kvmppc_vcpu_run_hv',
      'kvmppc_book3s_radix_page_fault',
      'kvmppc_book3s_instantiate_page',
      'kvmppc_create_pte',
    ],
    retrySite: 'arch/powerpc/kvm/book3s_64_mmu_radix.c:614',
  },
  'powerpc-book3s-pr': {
    frames: [
      'kvm_vcpu_ioctl',
      'kvm_arch_vcpu_ioctl_run',
      'kvmppc_vcpu_run_pr',
      'kvmppc_handle_pagefault',
      'kvmppc_mmu_map_page',
    ],
    // book3s_64_mmu_host.c's kvmppc_mmu_map_page (line unverified)
    retrySite: 'arch/powerpc/kvm/book3s_64_mmu_host.c:150',
  },
  'powerpc-e500': {
    frames: [
      'kvm_vcpu_ioctl',
      'kvm_arch_vcpu_ioctl_run',
      'kvmppc_handle_exit',
      'kvmppc_mmu_map',
      'kvmppc_e500_shadow_map',
    ],
    retrySite: 'arch/powerpc/kvm/e500_mmu_host.c:463',
  },
};

/** mmu_notifier_retry(kvm, mmu_seq) */
function mmuNotifierRetry(vm: KvmVm, mmuSeq: number): boolean {
  return vm.mmuNotifierCount !== 0 || vm.mmuNotifierSeq !== mmuSeq;
}

export type VcpuFaultResult = 'mapped' | 'retry' | 'efault' | 'no vm';

/** One vCPU fault at `gpa` of VM `name`, in the context of its KVM_RUN ioctl. */
export function kvmVcpuFault(
  ctx: ExecContext,
  sys: Sys,
  state: KvmComponentState,
  name: string,
  gpa: number,
): VcpuFaultResult {
  const vm = liveVm(state, name);
  if (!vm || vm.mapped === null) {
    sys.trace(ctx, 'kvm_vcpu_fault', { gpa, skipped: 'vm destroyed', vm: name });
    return 'no vm';
  }
  const path = FAULT_PATHS[sys.host.arch];
  const pageSize = sys.host.pageSize;
  const page = gpa - (gpa % pageSize);
  const slot = vm.memslots.find(
    (m) => page >= m.baseGfn * pageSize && page < (m.baseGfn + m.npages) * pageSize,
  );
  for (const f of path.frames) ctx.stack.push(f);
  try {
    if (!slot) {
      // no memslot: an MMIO exit to userspace, nothing to map
      sys.trace(ctx, 'kvm_vcpu_fault', { gpa, mmio: true, vm: name });
      return 'no vm';
    }
    const mmuSeq = vm.mmuNotifierSeq;
    const hva = slot.userspaceAddr + (page - slot.baseGfn * pageSize);
    const hostPage = { end: hva + pageSize, pid: vm.pid, start: hva };
    const resolved = frame(ctx, '__gfn_to_pfn_memslot', () =>
      frame(ctx, 'hva_to_pfn', () => {
        if (
          frame(ctx, 'hva_to_pfn_fast', () =>
            sys.call(ctx, 'mm', 'get_user_page_fast_only', hostPage),
          )
        ) {
          return true;
        }
        return (
          frame(ctx, 'hva_to_pfn_slow', () => sys.call(ctx, 'mm', 'get_user_pages', hostPage))
            .backed > 0
        );
      }),
    );
    if (!resolved) {
      sys.trace(ctx, 'kvm_vcpu_fault', { gpa: page, ret: 'efault', vm: name });
      return 'efault';
    }
    spinLock(ctx, LOCK.kvmMmuLock);
    const retry = mmuNotifierRetry(vm, mmuSeq);
    if (!retry) addRange(vm.mapped, page, page + pageSize);
    spinUnlock(ctx, LOCK.kvmMmuLock);
    sys.trace(ctx, 'kvm_vcpu_fault', {
      gpa: page,
      mapped: !retry,
      mmuNotifierCount: vm.mmuNotifierCount,
      retry,
      vm: name,
    });
    if (retry && vm.mmuNotifierCount > 0) recordLivelock(ctx, sys, vm, page, path.retrySite);
    return retry ? 'retry' : 'mapped';
  } finally {
    ctx.stack.length -= path.frames.length;
  }
}

/** The `guest-livelock` finding: the fault retries on a count no end will lower. */
function recordLivelock(ctx: ExecContext, sys: Sys, vm: KvmVm, gpa: number, site: string): void {
  const fn = ctx.stack[ctx.stack.length - 1] ?? '?';
  sys.violation(
    ctx,
    silentFinding(ctx, 'guest-livelock', `mmu_notifier_retry in ${fn}`, site, [
      `vm ${vm.name}: the fault at gpa 0x${gpa.toString(16)} finds kvm->mmu_notifier_count ${vm.mmuNotifierCount} with no invalidation in flight; ` +
        'the vCPU returns to the guest, faults again, and never maps it',
      'the kernel prints nothing here; the guest sees a soft lockup',
    ]),
  );
}
