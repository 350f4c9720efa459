/**
 * The `task` component: what a process does in its own context that involves several
 * components: a page fault that ends in the OOM killer, do_exit(), and closing a VM's fd. It has
 * no state of its own (that lives in mm, oom and kvm), so the orchestrator runs it.
 */
import { type ExecContext, frame } from './context.js';
import type { Sys } from './sys.js';
import { GFP_HIGHUSER_MOVABLE } from '../mm/oom-kill.js';
import type { Scenario } from '../model/scenario.js';

function kvm(sys: Sys): `kvm:${typeof sys.host.arch}` {
  return `kvm:${sys.host.arch}`;
}

/**
 * The process touches `size` bytes of anonymous memory: page faults that populate what host
 * memory allows, and for the shortfall the page allocator's slow path calls out_of_memory().
 * The allocator's retry after the kill is not modelled: the allocation stops at the shortfall.
 */
export function taskAllocate(ctx: ExecContext, sys: Sys, pid: number, size: number): void {
  frame(ctx, 'handle_mm_fault', () =>
    frame(ctx, '__handle_mm_fault', () =>
      frame(ctx, 'do_anonymous_page', () => {
        const r = sys.call(ctx, 'mm', 'handle_mm_fault', { pid, size });
        if (r.shortfall === 0) return;
        const path = [
          'alloc_pages_vma',
          '__alloc_pages_nodemask',
          '__alloc_pages_slowpath',
          '__alloc_pages_may_oom',
        ];
        for (const f of path) ctx.stack.push(f);
        try {
          sys.call(ctx, 'oom', 'out_of_memory', {
            ...GFP_HIGHUSER_MOVABLE,
            order: 0,
            sysrq: false,
          });
        } finally {
          ctx.stack.length -= path.length;
        }
      }),
    ),
  );
}

/**
 * do_exit(): exit_mm() (-> exit_mmap) comes before the files are closed (kernel/exit.c:792,
 * 800), so by the time the VM fds go (kvm_destroy_vm -> mmu_notifier_unregister) the notifier
 * was already released. exit_files() closes only the fds still open (close_files(),
 * fs/file.c:368-398): a VM whose fd a destroy-vm step closed was destroyed then, by the
 * kvm_put_kvm() that dropped its last reference (virt/kvm/kvm_main.c:840-844, 860-868), and is
 * not destroyed again.
 */
export function taskExit(ctx: ExecContext, sys: Sys, pid: number): void {
  frame(ctx, 'do_exit', () => {
    const ret = sys.call(ctx, 'mm', 'exit_mmap', { pid });
    if (ret !== 0) return;
    for (const vm of openVmFds(sys.scenario, pid)) {
      frame(ctx, 'task_work_run', () => closeVmFd(ctx, sys, pid, vm));
    }
  });
}

/**
 * The VM fds the process still has at its exit. It opened one per VM at boot (KVM_CREATE_VM)
 * and a destroy-vm step closes one. The task component keeps no state, but the scenario says
 * it all: a valid scenario destroys a VM at most once and never after its process exited
 * (libs/scenarios rejects both), and a destroy-vm step never waits for a lock, so every
 * destroy-vm of this process's VMs ran before this exit.
 */
function openVmFds(scenario: Scenario, pid: number): string[] {
  const closed = new Set(scenario.steps.flatMap((s) => (s.do === 'destroy-vm' ? [s.vm] : [])));
  const proc = scenario.processes.find((p) => p.pid === pid);
  return (proc?.vms ?? []).map((v) => v.name).filter((name) => !closed.has(name));
}

/** The process closes its VM (and vCPU) fds: the last reference goes, kvm_destroy_vm() runs. */
export function taskCloseVm(ctx: ExecContext, sys: Sys, pid: number, vm: string): void {
  closeVmFd(ctx, sys, pid, vm);
}

function closeVmFd(ctx: ExecContext, sys: Sys, pid: number, vm: string): void {
  frame(ctx, '__fput', () =>
    frame(ctx, 'kvm_vm_release', () =>
      frame(ctx, 'kvm_put_kvm', () =>
        frame(ctx, 'kvm_destroy_vm', () => {
          sys.call(ctx, 'mm', 'mmu_notifier_unregister', { pid, vm });
          sys.call(ctx, kvm(sys), 'kvm_arch_destroy_vm', { vm });
        }),
      ),
    ),
  );
}
