/**
 * A VM is destroyed once. In 5.8, kvm_destroy_vm() runs from the kvm_put_kvm() that drops
 * users_count to 0 (virt/kvm/kvm_main.c:840-844); closing the VM fd gets there through
 * kvm_vm_release() (860-868). close() clears the fd's slot (__close_fd, fs/file.c:626-646,
 * 638-639) and do_exit()'s exit_files() (kernel/exit.c:800) closes only the fds still open
 * (close_files, fs/file.c:368-398): a VM whose fd was closed before the exit gets nothing more.
 * kvm_destroy_vm() is where mmu_notifier_unregister() runs (kvm_main.c:818), so each VM has one
 * unregister and one kvm_arch_destroy_vm() (822), whichever of close and exit came first.
 * (docs/kernel-5.8-print-notes.md §7)
 */
import { describe, expect, it } from 'vitest';
import { resolveScenario } from '@mnsim/scenarios';
import { KERNEL_VARIANTS } from '@mnsim/kernel';
import {
  GiB,
  VARIANTS,
  builtinDocs,
  callsOf,
  guestDoc,
  run,
  scenarioOf,
  tracesOf,
  vm,
  type Run,
} from './helpers.js';

/** Per VM, the kvm_destroy_vm() chains: one mmu_notifier_unregister() call each. */
function destroys(r: Run): Record<string, { jiffies: number; by: string }[]> {
  const out: Record<string, { jiffies: number; by: string }[]> = {};
  for (const c of callsOf(r, 'mmu_notifier_unregister')) {
    const name = String(c.args.vm);
    expect(c.stack.slice(-2), 'unregister comes from kvm_destroy_vm').toEqual([
      'kvm_put_kvm',
      'kvm_destroy_vm',
    ]);
    (out[name] ??= []).push({
      jiffies: c.jiffies,
      by: c.stack.includes('do_exit') ? 'exit' : 'close',
    });
  }
  return out;
}

/** One qemu (pid 1200) with two VMs on one guest-RAM VMA. */
const twoVms = (steps: Record<string, unknown>[]) => {
  const doc = guestDoc({
    name: 'two-vms',
    memslots: [{ gpa: GiB, hva: GiB, size: GiB }],
    vmas: [{ start: GiB, size: 2 * GiB }],
    steps,
  });
  const [qemu] = doc.processes as { vms: Record<string, unknown>[] }[];
  qemu.vms.push({ name: 'guest1', memslots: [{ gpa: GiB, hva: 2 * GiB, size: GiB }] });
  return scenarioOf(doc);
};

describe('kvm_destroy_vm runs once per VM (virt/kvm/kvm_main.c:840-844)', () => {
  it.each(VARIANTS)('%s: destroy-vm, then exit: destroyed at the close only', (kernel) => {
    const r = run(resolveScenario('blockable-paths-arm64').scenario, kernel);
    expect(destroys(r)).toEqual({ guest0: [{ jiffies: 40, by: 'close' }] });
    expect(tracesOf(r, 'kvm_destroy_vm').map((t) => t.jiffies)).toEqual([40]);
    expect(callsOf(r, 'kvm_arch_destroy_vm').map((c) => c.jiffies)).toEqual([40]);
    // the exit at 50 still tears down the mm (exit_mm, kernel/exit.c:792)
    expect(callsOf(r, 'exit_mmap').map((c) => c.jiffies)).toEqual([50]);
    expect(vm(r).destroyed).toBe(true);
  });

  it.each(VARIANTS)('%s: two VMs, one closed before the exit: each destroyed once', (kernel) => {
    const r = run(
      twoVms([
        { at: 0, do: 'fault-in', vm: 'guest0' },
        { at: 0, do: 'fault-in', vm: 'guest1' },
        { at: 5, do: 'destroy-vm', vm: 'guest1' },
        { at: 10, do: 'exit', pid: 1200 },
      ]),
      kernel,
    );
    expect(destroys(r)).toEqual({
      guest1: [{ jiffies: 5, by: 'close' }],
      guest0: [{ jiffies: 10, by: 'exit' }],
    });
    // at the exit, exit_mmap's mmu_notifier_release had already unhooked guest0's notifier
    // (mm/mmu_notifier.c:809, hlist_unhashed): its unregister calls no ->release
    expect(tracesOf(r, 'mmu_notifier_unregister').map((t) => t.detail)).toEqual([
      { vm: 'guest1', wasHashed: true },
      { vm: 'guest0', wasHashed: false },
    ]);
    expect(vm(r, 'guest0').destroyed).toBe(true);
    expect(vm(r, 'guest1').destroyed).toBe(true);
  });

  it.each(VARIANTS)('%s: no close before the exit: the exit destroys every VM, once', (kernel) => {
    const r = run(
      twoVms([
        { at: 0, do: 'fault-in', vm: 'guest0' },
        { at: 10, do: 'exit', pid: 1200 },
      ]),
      kernel,
    );
    expect(destroys(r)).toEqual({
      guest0: [{ jiffies: 10, by: 'exit' }],
      guest1: [{ jiffies: 10, by: 'exit' }],
    });
  });

  it('every built-in on every variant: no VM destroyed twice', () => {
    for (const doc of builtinDocs()) {
      const s = resolveScenario(doc.name).scenario;
      for (const kernel of KERNEL_VARIANTS) {
        const r = run(s, kernel);
        for (const [name, d] of Object.entries(destroys(r))) {
          expect(d, `${doc.name} on ${kernel}: ${name}`).toHaveLength(1);
        }
        const arch = tracesOf(r, 'kvm_destroy_vm').map((t) => String(t.detail.vm));
        expect(new Set(arch).size, `${doc.name} on ${kernel}`).toBe(arch.length);
      }
    }
  });
});
