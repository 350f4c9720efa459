/**
 * The distributed benchmark's CPU readings from /proc: the fields are those proc(5) documents,
 * and a process's reading follows the CPU it really spent.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cpuBetween, parseMachineCpu, parseProcessCpu, readCpu } from '../bench/src/cpu-usage.js';

describe('the benchmark’s CPU readings', () => {
  it('takes utime and stime (fields 14 and 15) of /proc/<pid>/stat, whatever the command name', () => {
    // a command name with spaces and parentheses of its own; utime 150, stime 30 ticks
    const stat =
      '1234 (node (x) y) S 1 1234 1234 0 -1 4194560 2000 0 0 0 150 30 7 9 20 0 11 0 5000';
    expect(parseProcessCpu(stat)).toBe(1.8);
    expect(() => parseProcessCpu('1234 (node) S 1 2')).toThrow('not a /proc/<pid>/stat line');
    expect(() => parseProcessCpu('garbage')).toThrow('not a /proc/<pid>/stat line');
  });

  it('splits the cpu line of /proc/stat into busy, steal and the whole', () => {
    // user nice system idle iowait irq softirq steal guest guest_nice, in ticks
    const stat = 'cpu  100 5 50 800 20 3 2 10 0 0\ncpu0 50 2 25 400 10 1 1 5 0 0\n';
    const m = parseMachineCpu(stat);
    expect(m.busy).toBeCloseTo(1.6, 10);
    expect(m.steal).toBeCloseTo(0.1, 10);
    expect(m.total).toBeCloseTo(9.9, 10);
    expect(() => parseMachineCpu('cpu0 1 2 3\n')).toThrow('not the cpu line of /proc/stat');
  });

  it('gives each app its processes’ CPU between two readings, and the machine’s shares', () => {
    const machine = (busy: number, steal: number, total: number) => ({ busy, steal, total });
    const a = { byApp: { kvm: 1, mm: 2 }, machine: machine(10, 1, 40) };
    const b = { byApp: { kvm: 1.5, mm: 4.25 }, machine: machine(18, 2, 50) };
    expect(cpuBetween(a, b)).toEqual({
      byApp: { kvm: 0.5, mm: 2.25 },
      machineBusy: 0.8,
      machineSteal: 0.1,
    });
    expect(cpuBetween(null, b)).toBeNull();
    expect(cpuBetween(a, null)).toBeNull();
  });

  it.runIf(existsSync('/proc/self/stat'))(
    'reads the CPU a process really spent, and nothing for a process that is gone',
    () => {
      const self = [{ pid: process.pid, app: 'self' }];
      const before = readCpu(self);
      // spend 300 ms of CPU, by the process's own count
      const start = process.cpuUsage();
      let spent = 0;
      for (let x = 0; spent < 300_000; x++) {
        if (x % 10_000 === 0) {
          const d = process.cpuUsage(start);
          spent = d.user + d.system;
        }
      }
      const used = cpuBetween(before, readCpu(self));
      // /proc counts in 10 ms ticks
      expect(used?.byApp.self).toBeGreaterThanOrEqual(0.28);
      expect(used?.machineBusy).toBeGreaterThan(0);
      expect(readCpu([...self, { pid: 2 ** 22 + 1, app: 'gone' }])).toBeNull();
    },
  );
});
