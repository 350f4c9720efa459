/** The kvm component's state: the VMs of one architecture. Plain data. */
import type { Intervals } from '../../lib/interval-set.js';
import type { Arch } from '../../model/scenario.js';

export interface Memslot {
  /** index in the VM's memslot array */
  id: number;
  baseGfn: number;
  npages: number;
  userspaceAddr: number;
}

export interface KvmVm {
  name: string;
  /** kvm->mm's owner */
  pid: number;
  ipaBits: number;
  /** kvm_memslots(kvm), address space 0, sorted by base_gfn descending as 5.8 keeps them */
  memslots: Memslot[];
  /**
   * What the arch's MMU has mapped, in guest-physical bytes: stage-2 on arm64, SPTEs on x86, the
   * GPA page table on mips, the HPT/radix tree on book3s, shadow TLB entries on e500.
   * null: the tables are gone (arm64 kvm->arch.pgd == NULL after kvm_free_stage2_pgd).
   */
  mapped: Intervals | null;
  mmuNotifierCount: number;
  mmuNotifierSeq: number;
  tlbsDirty: number;
  destroyed: boolean;
  /** counters for the record */
  tlbFlushes: number;
  condReschedChecks: number;
}

export interface KvmComponentState {
  arch: Arch;
  vms: KvmVm[];
}
