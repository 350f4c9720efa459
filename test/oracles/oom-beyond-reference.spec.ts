/**
 * Kernel behaviour the reference does not spell out, checked against mm/oom_kill.c and
 * mm/gup.c at 5.8: a sysrq OOM does not abort on a living victim (oom_evaluate_task), a victim
 * already dying is not killed twice (oom_kill_process -> task_will_free_mem), and a killed
 * process's guest does not fault back in (__get_user_pages: fatal_signal_pending -> -EINTR), and
 * a killed process starts no syscall that would take its mmap lock (its threads die on the way
 * back to user space, kernel/signal.c get_signal -> do_group_exit), while a hold it began before
 * the kill goes on.
 */
import { describe, expect, it } from 'vitest';
import { formatKernelLog, simulate } from '@mnsim/engine';
import { parseScenario } from '@mnsim/scenarios';
import { kvmStartsBy, reaperTask, reaperTries, run, tracesOf } from './helpers.js';

const base = (
  steps: string,
  subscribers = '  - { pid: 1200, kind: userptr, nonBlockable: eagain }',
): string => `
name: beyond
kernel: "5.8"
host: { arch: arm64, memory: 16GiB }
processes:
  - pid: 1200
    comm: qemu
    vmas: [ { start: 0x40000000, size: 3GiB } ]
    vms: [ { name: guest0, memslots: [ { gpa: 0x40000000, hva: 0x40000000, size: 3GiB } ] } ]
  - pid: 1300
    comm: java
    vmas: [ { start: 0x100000000, size: 8GiB } ]
subscribers:
${subscribers}
steps:
${steps}
`;

const killed = (log: string[]): string[] =>
  log
    .filter((l) => / Out of memory: Killed process /.test(l))
    .map((l) => l.replace(/^\[[^\]]+\] /, ''));

describe('OOM beyond the reference', () => {
  it('a sysrq OOM kills again while the first victim is still alive; an allocation OOM aborts', () => {
    // qemu (3GiB) is killed at 10 and cannot be reaped (userptr -EAGAIN); java then grows to 7GiB
    const sysrq = parseScenario(
      base(`  - { at: 0, do: fault-in, vm: guest0 }
  - { at: 1, do: allocate, pid: 1300, size: 1GiB }
  - { at: 10, do: oom }
  - { at: 20, do: allocate, pid: 1300, size: 6GiB }
  - { at: 50, do: oom }`),
      'sysrq.yaml',
    );
    const r = simulate(sysrq);
    const lines = killed(formatKernelLog(r.kernelLog, 250));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^Out of memory: Killed process 1200 \(qemu\)/);
    expect(lines[1]).toMatch(/^Out of memory: Killed process 1300 \(java\)/);
  });

  it('a victim that is already dying is not killed twice', () => {
    // qemu is the biggest both times: the second sysrq OOM finds it dying (SIGKILL pending)
    const s = parseScenario(
      base(`  - { at: 0, do: fault-in, vm: guest0 }
  - { at: 10, do: oom }
  - { at: 50, do: oom }`),
      'twice.yaml',
    );
    const log = formatKernelLog(simulate(s).kernelLog, 250);
    expect(killed(log)).toHaveLength(1);
    expect(log.filter((l) => / invoked oom-killer: /.test(l))).toHaveLength(1);
  });

  it("a killed process's guest does not fault back in", () => {
    const s = parseScenario(
      base(
        `  - { at: 0, do: fault-in, vm: guest0 }
  - { at: 10, do: oom }
  - { at: 300, do: fault-in, vm: guest0 }`,
        '  []',
      ),
      'refault.yaml',
    );
    const r = simulate(s, { kernel: '5.8+fix' });
    const vm = r.states.kvm.vms[0];
    // reaped at 10 (no subscriber fails), so mmu_notifier_count is back to 0: only the stuck
    // vCPU keeps the guest from faulting back in
    expect(vm.mmuNotifierCount).toBe(0);
    expect(vm.mapped).toEqual([]);
    const task = r.states.mm.tasks.find((t) => t.pid === 1200);
    expect(task?.state).toBe('killed');
    expect(task?.mm?.resident).toEqual([]);
  });

  describe('a killed process takes no mmap lock of its own after the kill', () => {
    // qemu cannot be reaped (userptr -EAGAIN): the reaper tries at 10, 35, ..., 235
    const tries = Array.from({ length: 10 }, (_, k) => 10 + 25 * k);
    const runOf = (steps: string) => run(parseScenario(base(steps), 'held.yaml'), '5.8+fix');

    it('a hold-mmap-lock step after the kill does nothing: every try reaches the notifiers', () => {
      const r = runOf(`  - { at: 0, do: fault-in, vm: guest0 }
  - { at: 10, do: oom }
  - { at: 20, do: hold-mmap-lock, pid: 1200, for: 100 }`);
      expect(reaperTries(r)).toEqual(tries);
      expect(tracesOf(r, 'skip_task_reaping')).toEqual([]);
      expect(kvmStartsBy(r, reaperTask(r).pid).map((c) => c.jiffies)).toEqual(tries);
      expect(tracesOf(r, 'task_not_running').map((t) => t.jiffies)).toEqual([20]);
    });

    it('a hold begun before the kill goes on: the tries within it fail at the trylock', () => {
      const r = runOf(`  - { at: 0, do: fault-in, vm: guest0 }
  - { at: 5, do: hold-mmap-lock, pid: 1200, for: 50 }
  - { at: 10, do: oom }`);
      expect(reaperTries(r)).toEqual(tries);
      expect(tracesOf(r, 'skip_task_reaping').map((t) => t.jiffies)).toEqual([10, 35]);
      expect(kvmStartsBy(r, reaperTask(r).pid).map((c) => c.jiffies)).toEqual(tries.slice(2));
      expect(tracesOf(r, 'task_not_running')).toEqual([]);
    });
  });
});
