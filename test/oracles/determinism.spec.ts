/**
 * Determinism (design invariant 1: same scenario, variant and seed give the same logHash and the
 * same violations; another variant is another log) and task->comm as the kernel keeps it
 * (TASK_COMM_LEN 16: 15 characters and the NUL).
 */
import { describe, expect, it } from 'vitest';
import { listBuiltinScenarios, resolveScenario } from '@mnsim/scenarios';
import { GiB, VARIANTS, fixture, guestDoc, logLines, run, scenarioOf, task } from './helpers.js';

const NAMES = listBuiltinScenarios().map((b) => b.name);

describe('determinism', () => {
  it.each(NAMES)('%s: same variant and seed -> same logHash and violations', (name) => {
    const s = resolveScenario(name).scenario;
    const hashes = new Set<string>();
    for (const kernel of VARIANTS) {
      const a = run(s, kernel);
      const b = run(s, kernel);
      expect(b.logHash).toBe(a.logHash);
      expect(b.logHash).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(b.violations).toEqual(a.violations);
      expect(b.kernelLog).toEqual(a.kernelLog);
      hashes.add(String(a.logHash));
    }
    // a different variant is a different run
    expect(hashes.size).toBe(VARIANTS.length);
  });

  it.each(['oom-reap-arm64', 'userptr-eagain-arm64', 'rate-limit-arm64'])(
    '%s: the seed changes the log, not the violations the reference predicts',
    (name) => {
      const s = resolveScenario(name).scenario;
      const base = run(s, '5.8', 1);
      for (const seed of [2, 3, 7, 1234]) {
        const a = run(s, '5.8', seed);
        expect(run(s, '5.8', seed).logHash).toBe(a.logHash);
        expect(a.seed).toBe(seed);
        expect(a.violations.map((v) => [v.jiffies, v.reported, v.site])).toEqual(
          base.violations.map((v) => [v.jiffies, v.reported, v.site]),
        );
      }
    },
  );

  it('a fixture run twice is the same run', () => {
    const s = fixture('rate-limit-jiffy0');
    expect(run(s, '5.8').logHash).toBe(run(s, '5.8').logHash);
  });
});

describe('task->comm is truncated to 15 characters', () => {
  it.each([
    ['qemu-system-aarch64', 'qemu-system-aar'],
    ['abcdefghijklmnop', 'abcdefghijklmno'],
    ['abcdefghijklmno', 'abcdefghijklmno'],
    ['qemu', 'qemu'],
  ])('%s -> %s', (comm, kept) => {
    const doc = guestDoc({
      name: 'comm',
      comm,
      memslots: [{ gpa: GiB, hva: GiB, size: 3 * GiB }],
      others: [
        {
          pid: 1300,
          comm: `${comm}-allocator`,
          oomScoreAdj: -1000,
          vmas: [{ start: 0x100000000, size: 6 * GiB }],
        },
      ],
      steps: [
        { at: 0, do: 'fault-in', vm: 'guest0' },
        { at: 10, do: 'allocate', pid: 1300, size: 6 * GiB },
      ],
    });
    const r = run(scenarioOf(doc), '5.8');
    expect(task(r, 1200).comm).toBe(kept);
    expect(logLines(r, /Killed process/)[0].text).toContain(`Killed process 1200 (${kept}) `);
    expect(logLines(r, /^oom_reaper: reaped process/)[0].text).toContain(
      `reaped process 1200 (${kept}),`,
    );
    const allocator = `${comm}-allocator`.slice(0, 15);
    expect(logLines(r, /invoked oom-killer/)[0].text).toMatch(
      new RegExp(`^${allocator.replace(/[-]/g, '\\-')} invoked oom-killer: `),
    );
    expect(task(r, 1300).comm).toBe(allocator);
  });
});
