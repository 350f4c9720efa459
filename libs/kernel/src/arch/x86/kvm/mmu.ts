/**
 * arch/x86/kvm/mmu/mmu.c at 5.8 (reference §5.2): kvm_unmap_hva_range() ->
 * kvm_handle_hva_range(kvm_unmap_rmapp) over both address spaces, every memslot and every level
 * from 4K to 1G; kvm_zap_rmapp() clears SPTEs. Nothing on this path sleeps or reschedules; the
 * flags of patch 1 are ignored. The rmap walk is summarised per memslot, not per gfn.
 */
import { type ExecContext, frame } from '../../../kernel/context.js';
import type { Sys } from '../../../kernel/sys.js';
import { removeRange } from '../../../lib/interval-set.js';
import { memslotOverlaps } from '../../../virt/kvm/memslots.js';
import type { KvmVm } from '../../../virt/kvm/types.js';

/** KVM_ADDRESS_SPACE_NUM with SMM; the modelled memslots all live in address space 0. */
const KVM_ADDRESS_SPACE_NUM = 2;
/** PG_LEVEL_4K .. KVM_MAX_HUGEPAGE_LEVEL (PG_LEVEL_1G) */
const LEVELS = 3;

export function kvmUnmapHvaRange(
  ctx: ExecContext,
  sys: Sys,
  vm: KvmVm,
  start: number,
  end: number,
): boolean {
  return frame(ctx, 'kvm_unmap_hva_range', () =>
    frame(ctx, 'kvm_handle_hva_range', () => {
      let zapped = 0;
      for (let as = 0; as < KVM_ADDRESS_SPACE_NUM; as++) {
        if (as !== 0 || vm.mapped === null) continue;
        for (const o of memslotOverlaps(vm, start, end, sys.host.pageSize)) {
          const size = o.hvaEnd - o.hvaStart;
          const z = frame(ctx, 'kvm_unmap_rmapp', () =>
            frame(ctx, 'kvm_zap_rmapp', () =>
              vm.mapped === null ? 0 : removeRange(vm.mapped, o.gpa, o.gpa + size),
            ),
          );
          zapped += z;
          sys.trace(ctx, 'kvm_handle_hva_range', {
            gpa: o.gpa,
            levels: LEVELS,
            size,
            slot: o.slot.id,
            zapped: z,
          });
        }
      }
      // kvm_zap_rmapp() returns whether it dropped any SPTE: then the caller flushes
      return zapped > 0;
    }),
  );
}

/** kvm_arch_flush_shadow_all() -> kvm_mmu_zap_all(): every shadow page, blockable. */
export function kvmMmuZapAll(ctx: ExecContext, vm: KvmVm): void {
  frame(ctx, 'kvm_mmu_zap_all', () => {
    if (vm.mapped) vm.mapped = [];
  });
}

export const X86_FAULT_FRAMES = [
  'kvm_vcpu_ioctl',
  'kvm_arch_vcpu_ioctl_run',
  'vcpu_run',
  'vcpu_enter_guest',
  'kvm_mmu_page_fault',
  'direct_page_fault',
  'try_async_pf',
  '__gfn_to_pfn_memslot',
  'hva_to_pfn',
];
