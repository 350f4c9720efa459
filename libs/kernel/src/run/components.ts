/**
 * Message in -> kernel function -> reply: the dispatch tables of the components. The embedded
 * engine and the distributed workers both call these, so they cannot drift.
 */
import type { ExecContext } from '../kernel/context.js';
import type { Address, Sys } from '../kernel/sys.js';
import { taskAllocate, taskCloseVm, taskExit } from '../kernel/task.js';
import {
  exitMmap,
  faultInAnonymous,
  findTask,
  getUserPages,
  getUserPageFastOnly,
  liveMm,
  migrateVma,
  mmBoot,
  mmapWriteLockHold,
  mmapWriteUnlock,
  mprotect,
  registerDrivers,
  vmMunmap,
} from '../mm/mmap.js';
import { mmuNotifierRegister, mmuNotifierUnregister } from '../mm/mmu-notifier.js';
import {
  type OomComponentState,
  moomCallback,
  newOomState,
  oomKillTask,
  oomReapFinish,
  oomReapTaskMm,
  oomReaperRun,
  oomTaskList,
  outOfMemory,
} from '../mm/oom-kill.js';
import type { MmComponentState } from '../mm/types.js';
import type { Arch } from '../model/scenario.js';
import {
  kvmArchDestroyVm,
  kvmCreateVm,
  kvmFaultIn,
  kvmMmuNotifierInvalidateRangeEnd,
  kvmMmuNotifierInvalidateRangeStart,
  kvmMmuNotifierRelease,
  newKvmState,
} from '../virt/kvm/kvm-main.js';
import { kvmVcpuFault } from '../virt/kvm/vcpu-fault.js';
import type { KvmComponentState } from '../virt/kvm/types.js';
import type { CallArgs, CallMap, CallName, CallRet } from './calls.js';

type Handlers<S, F extends CallName> = {
  [K in F]: (state: S, args: CallArgs<K>, ctx: ExecContext, sys: Sys) => CallRet<K>;
};

export type MmCall =
  | 'mm_boot'
  | 'register_drivers'
  | 'mmu_notifier_register'
  | 'mmu_notifier_unregister'
  | 'get_user_pages'
  | 'get_user_page_fast_only'
  | 'handle_mm_fault'
  | 'mmap_write_lock_hold'
  | 'mmap_write_unlock'
  | 'vm_munmap'
  | 'mprotect'
  | 'migrate_vma'
  | 'exit_mmap'
  | 'oom_task_list'
  | 'mark_oom_victim'
  | 'oom_reap_task_mm'
  | 'oom_reap_finish';
export type OomCall = 'out_of_memory' | 'moom_callback' | 'oom_reaper_run';
export type KvmCall =
  | 'kvm_create_vm'
  | 'kvm_fault_in'
  | 'kvm_vcpu_fault'
  | 'kvm_mmu_notifier_invalidate_range_start'
  | 'kvm_mmu_notifier_invalidate_range_end'
  | 'kvm_mmu_notifier_release'
  | 'kvm_arch_destroy_vm';
export type TaskCall = 'task_allocate' | 'task_exit' | 'task_close_vm';

/**
 * A process whose syscalls a step stands for: one killed by the OOM killer is stuck until its
 * exit step (design: "until then it is stuck"), one that exited does nothing.
 */
function stuck(state: MmComponentState, pid: number, ctx: ExecContext, sys: Sys): boolean {
  const t = findTask(state, pid);
  if (t && t.state === 'running') return false;
  sys.trace(ctx, 'task_not_running', { pid, state: t?.state ?? 'no such process' });
  return true;
}

export const MM_HANDLERS: Handlers<MmComponentState, MmCall> = {
  mm_boot: (state, _a, _ctx, sys) => {
    const booted = mmBoot(sys.scenario.processes);
    state.tasks = booted.tasks;
    state.nextSubscriptionId = booted.nextSubscriptionId;
    return null;
  },
  register_drivers: (state, _a, _ctx, sys) => (
    registerDrivers(state, sys.scenario.subscribers),
    null
  ),
  mmu_notifier_register: (state, a) => {
    const mm = liveMm(state, a.pid);
    if (mm) mmuNotifierRegister(mm, { kind: 'kvm', vm: a.vm });
    return null;
  },
  mmu_notifier_unregister: (state, a, ctx, sys) => {
    const mm = findTask(state, a.pid)?.mm;
    if (mm) mmuNotifierUnregister(ctx, sys, mm, a.vm);
    return null;
  },
  get_user_pages: (state, a, ctx, sys) => getUserPages(ctx, sys, state, a.pid, a.start, a.end),
  get_user_page_fast_only: (state, a, ctx, sys) =>
    getUserPageFastOnly(ctx, sys, state, a.pid, a.start, a.end),
  handle_mm_fault: (state, a, ctx, sys) => {
    if (stuck(state, a.pid, ctx, sys)) {
      return {
        populated: 0,
        shortfall: 0,
        noSpace: 0,
        skipped: findTask(state, a.pid)?.state ?? 'no such process',
      };
    }
    return { ...faultInAnonymous(ctx, sys, state, a.pid, a.size), skipped: null };
  },
  // a thread of the process in a syscall (mmap_pgoff) that holds the lock: a killed process
  // starts none, its threads die on their way back to user space; a hold already begun goes on
  mmap_write_lock_hold: (state, a, ctx, sys) =>
    stuck(state, a.pid, ctx, sys) ? -3 : mmapWriteLockHold(ctx, sys, state, a.pid, a.for),
  mmap_write_unlock: (state, a, ctx, sys) => (mmapWriteUnlock(ctx, sys, state, a.pid), null),
  vm_munmap: (state, a, ctx, sys) =>
    stuck(state, a.pid, ctx, sys) ? -3 : vmMunmap(ctx, sys, state, a.pid, a.start, a.size),
  mprotect: (state, a, ctx, sys) =>
    stuck(state, a.pid, ctx, sys) ? -3 : mprotect(ctx, sys, state, a.pid, a.start, a.size),
  // migration is done by a driver or kcompactd, not necessarily by the process itself
  migrate_vma: (state, a, ctx, sys) => migrateVma(ctx, sys, state, a.pid, a.start, a.size),
  exit_mmap: (state, a, ctx, sys) => exitMmap(ctx, sys, state, a.pid),
  oom_task_list: (state, _a, _ctx, sys) => oomTaskList(state, sys.host.pageSize),
  mark_oom_victim: (state, a, ctx, sys) => oomKillTask(ctx, sys, state, a.pid, a.signal),
  oom_reap_task_mm: (state, a, ctx, sys) => oomReapTaskMm(ctx, sys, state, a.pid),
  oom_reap_finish: (state, a) => oomReapFinish(state, a.pid, a.exhausted),
};

export const OOM_HANDLERS: Handlers<OomComponentState, OomCall> = {
  out_of_memory: (state, a, ctx, sys) => outOfMemory(ctx, sys, state, a),
  moom_callback: (state, _a, ctx, sys) => (moomCallback(ctx, sys, state), null),
  oom_reaper_run: (state, _a, ctx, sys) => (oomReaperRun(ctx, sys, state), null),
};

export const KVM_HANDLERS: Handlers<KvmComponentState, KvmCall> = {
  kvm_create_vm: (state, a, ctx, sys) => {
    const spec = sys.scenario.processes.flatMap((p) => p.vms).find((v) => v.name === a.vm);
    if (!spec) throw new Error(`vm ${a.vm} is not in the scenario`);
    kvmCreateVm(ctx, sys, state, a.pid, spec);
    return null;
  },
  kvm_fault_in: (state, a, ctx, sys) => (kvmFaultIn(ctx, sys, state, a.vm), null),
  kvm_vcpu_fault: (state, a, ctx, sys) => kvmVcpuFault(ctx, sys, state, a.vm, a.gpa),
  kvm_mmu_notifier_invalidate_range_start: (state, a, ctx, sys) =>
    kvmMmuNotifierInvalidateRangeStart(ctx, sys, state, a.vm, a.range),
  kvm_mmu_notifier_invalidate_range_end: (state, a, ctx, sys) => (
    kvmMmuNotifierInvalidateRangeEnd(ctx, sys, state, a.vm, a.range, a.endOnly === true),
    null
  ),
  kvm_mmu_notifier_release: (state, a, ctx, sys) => (
    kvmMmuNotifierRelease(ctx, sys, state, a.vm),
    null
  ),
  kvm_arch_destroy_vm: (state, a, ctx, sys) => kvmArchDestroyVm(ctx, sys, state, a.vm),
};

export const TASK_HANDLERS: Handlers<null, TaskCall> = {
  task_allocate: (_s, a, ctx, sys) => (taskAllocate(ctx, sys, a.pid, a.size), null),
  task_exit: (_s, a, ctx, sys) => (taskExit(ctx, sys, a.pid), null),
  task_close_vm: (_s, a, ctx, sys) => (taskCloseVm(ctx, sys, a.pid, a.vm), null),
};

/** The component behind each address, and which calls it serves. */
export function componentOf(address: Address): 'mm' | 'oom' | 'kvm' | 'task' {
  if (address.startsWith('kvm:')) return 'kvm';
  return address as 'mm' | 'oom' | 'task';
}

export interface ComponentStates {
  mm: MmComponentState;
  oom: OomComponentState;
  kvm: KvmComponentState;
}

export function initialStates(arch: Arch): ComponentStates {
  return { mm: { tasks: [], nextSubscriptionId: 1 }, oom: newOomState(), kvm: newKvmState(arch) };
}

/** Runs `fn` on the component at `to`: the one function both engines call for every message. */
export function dispatch<F extends CallName>(
  states: ComponentStates,
  to: Address,
  fn: F,
  args: CallArgs<F>,
  ctx: ExecContext,
  sys: Sys,
): CallMap[F]['ret'] {
  const component = componentOf(to);
  const table: Record<string, unknown> =
    component === 'mm'
      ? MM_HANDLERS
      : component === 'oom'
        ? OOM_HANDLERS
        : component === 'kvm'
          ? KVM_HANDLERS
          : TASK_HANDLERS;
  const handler = table[fn] as
    ((s: unknown, a: CallArgs<F>, c: ExecContext, y: Sys) => CallRet<F>) | undefined;
  if (!handler) throw new Error(`${to} has no handler for ${fn}`);
  const state = component === 'task' ? null : states[component];
  return handler(state, args, ctx, sys);
}
