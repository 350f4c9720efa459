/**
 * arch/powerpc/kvm/e500_mmu_host.c at 5.8 (reference §5.4): kvm_unmap_hva_range() calls
 * kvm_unmap_hva(kvm, start) -- "kvm_unmap_hva flushes everything anyways" -- which traces and
 * calls kvm_flush_remote_tlbs(): every shadow TLB entry goes, nothing sleeps.
 */
import { type ExecContext, frame } from '../../../kernel/context.js';
import type { Sys } from '../../../kernel/sys.js';
import { totalBytes } from '../../../lib/interval-set.js';
import type { KvmVm } from '../../../virt/kvm/types.js';

export function kvmUnmapHvaRange(ctx: ExecContext, sys: Sys, vm: KvmVm, start: number): boolean {
  return frame(ctx, 'kvm_unmap_hva_range', () =>
    frame(ctx, 'kvm_unmap_hva', () => {
      const cleared = vm.mapped ? totalBytes(vm.mapped) : 0;
      if (vm.mapped) vm.mapped = [];
      frame(ctx, 'kvm_flush_remote_tlbs', () => {
        vm.tlbFlushes++;
      });
      sys.trace(ctx, 'kvm_unmap_hva', { cleared, hva: start });
      return false;
    }),
  );
}

export const E500_FAULT_FRAMES = [
  'kvm_vcpu_ioctl',
  'kvm_arch_vcpu_ioctl_run',
  'kvmppc_handle_exit',
  'kvmppc_mmu_map',
  'kvmppc_e500_shadow_map',
  'gfn_to_pfn_memslot',
  '__gfn_to_pfn_memslot',
  'hva_to_pfn',
];
