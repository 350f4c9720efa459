/**
 * arch/powerpc/kvm/book3s.c at 5.8 (reference §5.4): kvm_unmap_hva_range() returns
 * kvm->arch.kvm_ops->unmap_hva_range(kvm, start, end); patch 1 changes only the prototype.
 * - HV (book3s_64_mmu_hv.c): kvm_unmap_hva_range_hv() -> kvm_handle_hva_range() with
 *   kvm_unmap_radix (radix guest) per gfn; the HPT path spins on HPTE_V_HVLOCK, never sleeps.
 * - PR (book3s_pr.c): kvm_unmap_hva_range_pr() -> do_kvm_unmap_hva() ->
 *   kvmppc_mmu_pte_pflush() per memslot and vCPU, under a spinlock.
 */
import { type ExecContext, frame } from '../../../kernel/context.js';
import type { Sys } from '../../../kernel/sys.js';
import { removeRange } from '../../../lib/interval-set.js';
import { memslotOverlaps } from '../../../virt/kvm/memslots.js';
import type { KvmVm } from '../../../virt/kvm/types.js';

export function kvmUnmapHvaRange(
  ctx: ExecContext,
  sys: Sys,
  vm: KvmVm,
  start: number,
  end: number,
  flavour: 'hv' | 'pr',
): boolean {
  return frame(ctx, 'kvm_unmap_hva_range', () => {
    const op = flavour === 'hv' ? 'kvm_unmap_hva_range_hv' : 'kvm_unmap_hva_range_pr';
    const inner =
      flavour === 'hv'
        ? ['kvm_handle_hva_range', 'kvm_unmap_radix']
        : ['do_kvm_unmap_hva', 'kvmppc_mmu_pte_pflush'];
    frame(ctx, op, () =>
      frame(ctx, inner[0], () => {
        for (const o of memslotOverlaps(vm, start, end, sys.host.pageSize)) {
          const size = o.hvaEnd - o.hvaStart;
          frame(ctx, inner[1], () => {
            const cleared = vm.mapped ? removeRange(vm.mapped, o.gpa, o.gpa + size) : 0;
            sys.trace(ctx, inner[1], { cleared, gpa: o.gpa, size, slot: o.slot.id });
          });
        }
      }),
    );
    return false;
  });
}

export const BOOK3S_FAULT_FRAMES = {
  hv: [
    'kvm_vcpu_ioctl',
    'kvm_arch_vcpu_ioctl_run',
    'kvmppc_vcpu_run_hv',
    'kvmppc_book3s_radix_page_fault',
    'kvmppc_book3s_instantiate_page',
    '__gfn_to_pfn_memslot',
    'hva_to_pfn',
  ],
  pr: [
    'kvm_vcpu_ioctl',
    'kvm_arch_vcpu_ioctl_run',
    'kvmppc_vcpu_run_pr',
    'kvmppc_handle_pagefault',
    'kvmppc_mmu_map_page',
    'kvmppc_gpa_to_pfn',
    '__gfn_to_pfn_memslot',
    'hva_to_pfn',
  ],
};
