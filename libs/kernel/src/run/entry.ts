/**
 * Where each stimulus enters the kernel: the task it runs as and the frames below the first
 * modelled function (syscall entry, page-fault entry, kthread), per architecture.
 */
import type { TaskRef } from '../kernel/context.js';
import type { Arch } from '../model/scenario.js';
import { OOM_REAPER_STACK, OOM_REAPER_TASK } from '../mm/oom-kill.js';

export const SWAPPER_TASK: TaskRef = { pid: 0, comm: 'swapper/0', kthread: true };
/** The kworker that runs sysrq-f's moom_work. */
export const SYSRQ_KWORKER_TASK: TaskRef = { pid: 25, comm: 'kworker/0:1', kthread: true };
export const KWORKER_STACK = ['ret_from_fork', 'kthread', 'worker_thread', 'process_one_work'];
export { OOM_REAPER_STACK, OOM_REAPER_TASK };

export function syscallEntry(arch: Arch, name: string): string[] {
  switch (arch) {
    case 'arm64':
      return [
        'el0_sync',
        'el0_sync_handler',
        'el0_svc',
        'do_el0_svc',
        'el0_svc_common',
        `__arm64_sys_${name}`,
      ];
    case 'x86':
      return ['entry_SYSCALL_64_after_hwframe', 'do_syscall_64', `__x64_sys_${name}`];
    case 'mips':
      return ['handle_sys64', `sys_${name}`];
    default:
      return ['system_call_common', 'system_call_exception', `sys_${name}`];
  }
}

export function pageFaultEntry(arch: Arch): string[] {
  switch (arch) {
    case 'arm64':
      return ['el0_sync', 'el0_sync_handler', 'el0_da', 'do_mem_abort', 'do_page_fault'];
    case 'x86':
      return ['asm_exc_page_fault', 'exc_page_fault', 'handle_page_fault', 'do_user_addr_fault'];
    case 'mips':
      return ['handle_tlbl', 'do_page_fault'];
    default:
      return ['data_access_common', 'do_page_fault'];
  }
}
