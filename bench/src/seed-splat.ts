/**
 * The splat of the series "KVM: arm64: Fix sleeping while atomic BUG() on OOM" (reference
 * kernel-5.8-model.md §6.2), verbatim from its commit message without the " | " quote prefix: the
 * oracles' golden splat, and the triage benchmark's model of a real oom_reaper splat. Data only:
 * the tests and the benchmark both read it from here.
 */
export const SEED_SPLAT: readonly string[] = Object.freeze([
  'BUG: sleeping function called from invalid context at arch/arm64/kvm/mmu.c:394',
  'in_atomic(): 1, irqs_disabled(): 0, non_block: 1, pid: 36, name: oom_reaper',
  'INFO: lockdep is turned off.',
  'CPU: 3 PID: 36 Comm: oom_reaper Not tainted 5.8.0 #1',
  'Hardware name: QEMU QEMU Virtual Machine, BIOS 0.0.0 02/06/2015',
  'Call trace:',
  ' dump_backtrace+0x0/0x284',
  ' show_stack+0x1c/0x28',
  ' dump_stack+0xf0/0x1a4',
  ' ___might_sleep+0x2bc/0x2cc',
  ' unmap_stage2_range+0x160/0x1ac',
  ' kvm_unmap_hva_range+0x1a0/0x1c8',
  ' kvm_mmu_notifier_invalidate_range_start+0x8c/0xf8',
  ' __mmu_notifier_invalidate_range_start+0x218/0x31c',
  ' mmu_notifier_invalidate_range_start_nonblock+0x78/0xb0',
  ' __oom_reap_task_mm+0x128/0x268',
  ' oom_reap_task+0xac/0x298',
  ' oom_reaper+0x178/0x17c',
  ' kthread+0x1e4/0x1fc',
  ' ret_from_fork+0x10/0x30',
]);

/** The same splat as another boot's reaper prints it: its pid and its CPU differ. */
export function seedSplatOf(pid: number, cpu: number): string[] {
  return SEED_SPLAT.map((line) =>
    line
      .replace(/pid: 36, name: oom_reaper$/, `pid: ${pid}, name: oom_reaper`)
      .replace(/^CPU: 3 PID: 36 /, `CPU: ${cpu} PID: ${pid} `),
  );
}
