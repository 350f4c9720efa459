/**
 * Every call that crosses components, with its arguments and return value: the message
 * contract between the workers. A message's payload type follows from its name.
 */
import type { MmuNotifierRange } from '../mm/range.js';
import type { KillInfo, OomControl, OomTaskInfo } from '../mm/oom-kill.js';
import type { VcpuFaultResult } from '../virt/kvm/vcpu-fault.js';

type Call<A, R> = { args: A; ret: R };

export interface CallMap {
  // ---- mm (mmu-notifier worker)
  mm_boot: Call<Record<string, never>, null>;
  register_drivers: Call<Record<string, never>, null>;
  mmu_notifier_register: Call<{ pid: number; vm: string }, null>;
  mmu_notifier_unregister: Call<{ pid: number; vm: string }, null>;
  get_user_page_fast_only: Call<{ pid: number; start: number; end: number }, boolean>;
  get_user_pages: Call<
    { pid: number; start: number; end: number },
    { populated: number; backed: number }
  >;
  handle_mm_fault: Call<
    { pid: number; size: number },
    { populated: number; shortfall: number; noSpace: number; skipped: string | null }
  >;
  mmap_write_lock_hold: Call<{ pid: number; for: number }, number>;
  mmap_write_unlock: Call<{ pid: number }, null>;
  vm_munmap: Call<{ pid: number; start: number; size: number }, number>;
  mprotect: Call<{ pid: number; start: number; size: number }, number>;
  migrate_vma: Call<{ pid: number; start: number; size: number }, number>;
  exit_mmap: Call<{ pid: number }, number>;
  oom_task_list: Call<Record<string, never>, OomTaskInfo[]>;
  mark_oom_victim: Call<{ pid: number; signal: boolean }, KillInfo>;
  oom_reap_task_mm: Call<{ pid: number }, boolean>;
  oom_reap_finish: Call<{ pid: number; exhausted: boolean }, { unable: boolean; comm: string }>;
  // ---- oom (oom-killer worker)
  out_of_memory: Call<OomControl, boolean>;
  moom_callback: Call<Record<string, never>, null>;
  oom_reaper_run: Call<Record<string, never>, null>;
  // ---- kvm (one worker per architecture)
  kvm_create_vm: Call<{ pid: number; vm: string }, null>;
  kvm_fault_in: Call<{ vm: string }, null>;
  /** 'mapped', or 'retry' when mmu_notifier_retry() sent the vCPU back to the guest */
  kvm_vcpu_fault: Call<{ gpa: number; vm: string }, VcpuFaultResult>;
  kvm_mmu_notifier_invalidate_range_start: Call<{ vm: string; range: MmuNotifierRange }, number>;
  /** `endOnly`: ->invalidate_range_end alone, as c2655835fd8c's pairing calls it */
  kvm_mmu_notifier_invalidate_range_end: Call<
    { vm: string; range: MmuNotifierRange; endOnly?: true },
    null
  >;
  kvm_mmu_notifier_release: Call<{ vm: string }, null>;
  kvm_arch_destroy_vm: Call<{ vm: string }, boolean>;
  // ---- task (a process's own context, run by the orchestrator)
  task_allocate: Call<{ pid: number; size: number }, null>;
  task_exit: Call<{ pid: number }, null>;
  task_close_vm: Call<{ pid: number; vm: string }, null>;
}

export type CallName = keyof CallMap;
export type CallArgs<F extends CallName> = CallMap[F]['args'];
export type CallRet<F extends CallName> = CallMap[F]['ret'];
