/**
 * arch/mips/kvm/mmu.c at 5.8 (reference §5.3): handle_hva_to_gpa() with
 * kvm_unmap_hva_handler() -> kvm_mips_flush_gpa_pt() (clears GPA page-table entries, frees
 * covered tables, never sleeps), then flush_shadow_all() (TLB requests with a GFP_ATOMIC mask).
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
): boolean {
  return frame(ctx, 'kvm_unmap_hva_range', () => {
    frame(ctx, 'handle_hva_to_gpa', () => {
      for (const o of memslotOverlaps(vm, start, end, sys.host.pageSize)) {
        const size = o.hvaEnd - o.hvaStart;
        frame(ctx, 'kvm_unmap_hva_handler', () =>
          frame(ctx, 'kvm_mips_flush_gpa_pt', () => {
            const cleared = vm.mapped ? removeRange(vm.mapped, o.gpa, o.gpa + size) : 0;
            sys.trace(ctx, 'kvm_mips_flush_gpa_pt', { cleared, gpa: o.gpa, size, slot: o.slot.id });
          }),
        );
      }
    });
    frame(ctx, 'kvm_vz_flush_shadow_all', () => {
      vm.tlbFlushes++;
    });
    return false;
  });
}

/** kvm_arch_flush_shadow_all(): flush_shadow_all() plus the whole GPA page table. */
export function kvmMipsFlushShadowAll(ctx: ExecContext, vm: KvmVm): void {
  frame(ctx, 'kvm_mips_flush_gpa_pt', () => {
    if (vm.mapped) vm.mapped = [];
  });
}

export const MIPS_FAULT_FRAMES = [
  'kvm_vcpu_ioctl',
  'kvm_arch_vcpu_ioctl_run',
  'kvm_mips_handle_exit',
  'kvm_mips_handle_vz_root_tlb_fault',
  'kvm_mips_map_page',
  'gfn_to_pfn_prot',
  '__gfn_to_pfn_memslot',
  'hva_to_pfn',
];
