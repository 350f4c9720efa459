/** Memslot lookups shared by the arch handlers (virt/kvm/kvm_main.c, include/linux/kvm_host.h). */
import type { KvmVm, Memslot } from './types.js';

export interface MemslotOverlap {
  slot: Memslot;
  /** the hva intersection [hvaStart, hvaEnd) */
  hvaStart: number;
  hvaEnd: number;
  /** hva_to_gfn_memslot(hvaStart) << PAGE_SHIFT */
  gpa: number;
}

/**
 * kvm_for_each_memslot() with the hva intersection of handle_hva_to_gpa() and
 * kvm_handle_hva_range(): one entry per memslot overlapping [start, end), in memslot order.
 */
export function memslotOverlaps(
  vm: KvmVm,
  start: number,
  end: number,
  pageSize: number,
): MemslotOverlap[] {
  const out: MemslotOverlap[] = [];
  for (const slot of vm.memslots) {
    const slotEnd = slot.userspaceAddr + slot.npages * pageSize;
    const hvaStart = Math.max(start, slot.userspaceAddr);
    const hvaEnd = Math.min(end, slotEnd);
    if (hvaStart >= hvaEnd) continue;
    // hva_to_gfn_memslot(): base_gfn + ((hva - userspace_addr) >> PAGE_SHIFT)
    const gfn = slot.baseGfn + Math.floor((hvaStart - slot.userspaceAddr) / pageSize);
    out.push({ slot, hvaStart, hvaEnd, gpa: gfn * pageSize });
  }
  return out;
}
