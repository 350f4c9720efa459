/**
 * Titles of splats in the shapes real logs print them, checked against syzkaller's rules
 * (pkg/report linux.go and report.go): the first call-trace frame, innermost first, that is not
 * a printing, checking, locking or allocating helper; "? " and "[inline]" frames never count;
 * names lose ".cold"/".isra.N" and offsets; one syscall prefix goes.
 */
import { describe, expect, it } from 'vitest';
import { DmesgReader, type RawSplat, stripConsolePrefix } from './dmesg.js';
import { stripSyscallPrefix, titleOf } from './title.js';

function splatsOf(log: string): RawSplat[] {
  const out: RawSplat[] = [];
  const r = new DmesgReader((s) => out.push(s));
  for (const line of log.split('\n')) r.line(line);
  r.end();
  return out;
}

/** The seed's splat, from the commit message of the series (arm64, 5.8). */
const SEED = `[  123.456789] BUG: sleeping function called from invalid context at arch/arm64/kvm/mmu.c:394
[  123.456801] in_atomic(): 1, irqs_disabled(): 0, non_block: 1, pid: 36, name: oom_reaper
[  123.456810] INFO: lockdep is turned off.
[  123.456820] CPU: 3 PID: 36 Comm: oom_reaper Not tainted 5.8.0 #1
[  123.456830] Hardware name: QEMU QEMU Virtual Machine, BIOS 0.0.0 02/06/2015
[  123.456840] Call trace:
[  123.456850]  dump_backtrace+0x0/0x284
[  123.456860]  show_stack+0x1c/0x28
[  123.456870]  dump_stack+0xf0/0x1a4
[  123.456880]  ___might_sleep+0x2bc/0x2cc
[  123.456890]  unmap_stage2_range+0x160/0x1ac
[  123.456900]  kvm_unmap_hva_range+0x1a0/0x1c8
[  123.456910]  kvm_mmu_notifier_invalidate_range_start+0x8c/0xf8
[  123.456920]  __mmu_notifier_invalidate_range_start+0x218/0x31c
[  123.456930]  mmu_notifier_invalidate_range_start_nonblock+0x78/0xb0
[  123.456940]  __oom_reap_task_mm+0x128/0x268
[  123.456950]  oom_reap_task+0xac/0x298
[  123.456960]  oom_reaper+0x178/0x17c
[  123.456970]  kthread+0x1e4/0x1fc
[  123.456980]  ret_from_fork+0x10/0x30`;

/** x86 in the shape of a real report: caller ids, a lock list, "? " and ".cold" frames, <IRQ>. */
const X86_IN_IRQ = `[   41.000001][ T2345] BUG: sleeping function called from invalid context at mm/slab.h:568
[   41.000002][ T2345] in_atomic(): 1, irqs_disabled(): 1, non_block: 0, pid: 2345, name: kworker/u8:3
[   41.000003][ T2345] 2 locks held by kworker/u8:3/2345:
[   41.000004][ T2345]  #0: ffff888012345678 (&dev->lock){-.-.}-{2:2}, at: foo_irq_handler+0x2a/0x110 [foo]
[   41.000005][ T2345]  #1: ffffffff8a1b2c3d (rcu_read_lock){....}-{1:2}, at: rcu_lock_acquire+0x0/0x30
[   41.000006][ T2345] irq event stamp: 10203
[   41.000007][ T2345] hardirqs last  enabled at (10202): [<ffffffff81234567>] _raw_spin_unlock_irqrestore+0x34/0x50
[   41.000008][ T2345] Preemption disabled at:
[   41.000009][ T2345] [<ffffffff81abcdef>] foo_irq_handler+0x2a/0x110 [foo]
[   41.000010][ T2345] CPU: 1 PID: 2345 Comm: kworker/u8:3 Tainted: G        W         5.8.0-rc7+ #12
[   41.000011][ T2345] Hardware name: QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.13.0-1ubuntu1 04/01/2014
[   41.000012][ T2345] Call Trace:
[   41.000013][ T2345]  <IRQ>
[   41.000014][ T2345]  dump_stack+0x18f/0x20d
[   41.000015][ T2345]  ___might_sleep.cold+0x1f/0x30
[   41.000016][ T2345]  ? foo_irq_handler+0x2a/0x110 [foo]
[   41.000017][ T2345]  __kmalloc_track_caller+0x2d1/0x360
[   41.000018][ T2345]  kmemdup+0x1f/0x50
[   41.000019][ T2345]  foo_copy_state.isra.0+0x44/0x120 [foo]
[   41.000020][ T2345]  foo_irq_handler+0x7b/0x110 [foo]
[   41.000021][ T2345]  __handle_irq_event_percpu+0x88/0x2d0
[   41.000022][ T2345]  handle_irq_event+0x102/0x290
[   41.000023][ T2345]  </IRQ>
[   41.000024][ T2345]  process_one_work+0x94c/0x15f0
[   41.000025][ T2345]  kthread+0x3b5/0x4a0
[   41.000026][ T2345]  ret_from_fork+0x1f/0x30
[   41.000027][ T2345] ------------[ cut here ]------------`;

/** A syscall reaching it: the prefix of the syscall frame goes, registers follow the trace. */
const X86_SYSCALL = `Dec  6 10:00:00 host kernel: [  77.100000] BUG: sleeping function called from invalid context at kernel/locking/mutex.c:938
Dec  6 10:00:00 host kernel: [  77.100001] in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 4242, name: repro
Dec  6 10:00:00 host kernel: [  77.100002] CPU: 0 PID: 4242 Comm: repro Not tainted 5.8.0 #1
Dec  6 10:00:00 host kernel: [  77.100003] Call Trace:
Dec  6 10:00:00 host kernel: [  77.100004]  dump_stack+0x9a/0xd0
Dec  6 10:00:00 host kernel: [  77.100005]  ___might_sleep.cold+0x1f/0x30
Dec  6 10:00:00 host kernel: [  77.100006]  __mutex_lock+0x94/0x9e0
Dec  6 10:00:00 host kernel: [  77.100007]  ? _raw_spin_lock+0x2a/0x40
Dec  6 10:00:00 host kernel: [  77.100008]  mutex_lock_nested+0x1b/0x20
Dec  6 10:00:00 host kernel: [  77.100009]  __x64_sys_ioctl+0x6d/0xa0
Dec  6 10:00:00 host kernel: [  77.100010]  do_syscall_64+0x52/0xb0
Dec  6 10:00:00 host kernel: [  77.100011]  entry_SYSCALL_64_after_hwframe+0x44/0xa9
Dec  6 10:00:00 host kernel: [  77.100012] RIP: 0033:0x7f2a3c4b5e5b
Dec  6 10:00:00 host kernel: [  77.100013] Code: Bad RIP value.
Dec  6 10:00:00 host kernel: [  77.100014] RSP: 002b:00007ffd4a0c8e98 EFLAGS: 00000246 ORIG_RAX: 0000000000000010
Dec  6 10:00:00 host kernel: [  77.100015] RAX: ffffffffffffffda RBX: 0000000000000000 RCX: 00007f2a3c4b5e5b
Dec  6 10:00:00 host kernel: [  77.100016] usb 1-1: new high-speed USB device number 2 using xhci_hcd`;

const SCHEDULING = `[  300.000001] BUG: scheduling while atomic: qemu-system-x86/1200/0x00000002
[  300.000002] Modules linked in: kvm_intel kvm
[  300.000003] CPU: 2 PID: 1200 Comm: qemu-system-x86 Not tainted 5.8.0 #1
[  300.000004] Call Trace:
[  300.000005]  dump_stack+0x9a/0xd0
[  300.000006]  __schedule_bug.cold+0x8e/0x9b
[  300.000007]  __schedule+0x66c/0x7e0
[  300.000008]  schedule+0x46/0xb0
[  300.000009]  kvm_vcpu_block+0x6e/0x370 [kvm]
[  300.000010]  kvm_arch_vcpu_ioctl_run+0x3c2/0x1c50 [kvm]
[  300.000011]  kvm_vcpu_ioctl+0x209/0x5a0 [kvm]
[  300.000012]  ksys_ioctl+0x8e/0xc0
[  300.000013]  __x64_sys_ioctl+0x1a/0x20
[  300.000014]  do_syscall_64+0x52/0xb0`;

describe('triage titles', () => {
  it('the seed splat: the first frame past dump_backtrace, show_stack, dump_stack, ___might_sleep', () => {
    const [s] = splatsOf(SEED);
    expect(titleOf(s)).toBe(
      'BUG: sleeping function called from invalid context in unmap_stage2_range',
    );
    expect(s).toMatchObject({ comm: 'oom_reaper', pid: 36, release: '5.8.0', line: 1 });
    expect(s.site).toBe('arch/arm64/kvm/mmu.c:394');
    expect(s.frames.map((f) => f.fn).at(-1)).toBe('ret_from_fork');
  });

  it('x86 in an interrupt: "? " frames skipped, .cold/.isra cut, allocators skipped, <IRQ> kept going', () => {
    const [s, ...more] = splatsOf(X86_IN_IRQ);
    expect(more).toEqual([]);
    // dump_stack, ___might_sleep (its ".cold" cut), __kmalloc_track_caller (an allocator) and
    // kmemdup (a copy) are skipped; foo_copy_state.isra.0 is cut to its name
    expect(titleOf(s)).toBe('BUG: sleeping function called from invalid context in foo_copy_state');
    // the trace reads through </IRQ> to ret_from_fork, without the unreliable frame
    expect(s.frames.filter((f) => f.unreliable).map((f) => f.fn)).toEqual(['foo_irq_handler']);
    expect(s.frames.at(-1)?.fn).toBe('ret_from_fork');
    // the lock list and "Preemption disabled at:" are not the trace
    expect(s.frames[0].fn).toBe('dump_stack');
    expect(s).toMatchObject({ comm: 'kworker/u8:3', pid: 2345, release: '5.8.0-rc7+' });
  });

  it('a syscall path in syslog lines: locks skipped, the register dump does not end the trace', () => {
    const [s] = splatsOf(X86_SYSCALL);
    // __mutex_lock and mutex_lock_nested are lock helpers; __x64_sys_ioctl loses one prefix
    expect(titleOf(s)).toBe('BUG: sleeping function called from invalid context in sys_ioctl');
    expect(s.frames.at(-1)?.fn).toBe('entry_SYSCALL_64_after_hwframe');
    expect(s.frames).toHaveLength(8);
  });

  it('scheduling while atomic: its own header, and anything with "schedule" in it skipped', () => {
    const [s] = splatsOf(SCHEDULING);
    expect(s).toMatchObject({
      type: 'scheduling-while-atomic',
      comm: 'qemu-system-x86',
      pid: 1200,
    });
    expect(titleOf(s)).toBe('BUG: scheduling while atomic in kvm_vcpu_block');
  });

  it('several splats in one log, each with its own line; one without a trace is "corrupted"', () => {
    const log = [
      SEED,
      'BUG: sleeping function called from invalid context at x.c:1',
      SCHEDULING,
    ].join('\n');
    const splats = splatsOf(log);
    expect(splats.map((s) => [s.line, titleOf(s)])).toEqual([
      [1, 'BUG: sleeping function called from invalid context in unmap_stage2_range'],
      [21, 'BUG: sleeping function called from invalid context in corrupted'],
      [22, 'BUG: scheduling while atomic in kvm_vcpu_block'],
    ]);
  });

  it('strips console prefixes and one syscall prefix, the shortest result winning', () => {
    expect(stripConsolePrefix('<3>[   12.345678][    C0] BUG: x')).toBe('BUG: x');
    expect(stripConsolePrefix('2026-12-06T10:00:00.123+00:00 host kernel: BUG: y')).toBe('BUG: y');
    expect(stripSyscallPrefix('__x64_sys_ioctl')).toBe('sys_ioctl');
    expect(stripSyscallPrefix('__se_sys_ioctl')).toBe('ioctl');
    expect(stripSyscallPrefix('__do_sys_ioctl')).toBe('ioctl');
    expect(stripSyscallPrefix('ksys_ioctl')).toBe('ioctl');
    expect(stripSyscallPrefix('do_sys_open')).toBe('do_sys_open');
  });
});
