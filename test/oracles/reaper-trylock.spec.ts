/**
 * Oracle 12: while another task holds the victim's mmap lock for writing, oom_reap_task_mm fails
 * at mmap_read_trylock without touching the notifiers (no KVM call, no violation) and the reaper
 * retries HZ/10 later, ten tries in all, sleeping after every failed one (§3.2).
 */
import { describe, expect, it } from 'vitest';
import { resolveScenario } from '@mnsim/scenarios';
import {
  GiB,
  VARIANTS,
  covered,
  fixture,
  fixtureDoc,
  kvmStartsBy,
  logLines,
  reaperTask,
  reaperTries,
  run,
  scenarioOf,
  task,
  tracesOf,
  vm,
  type Doc,
} from './helpers.js';

const tries = (first: number, hz: number, n = 10) =>
  Array.from({ length: n }, (_, k) => first + k * Math.floor(hz / 10));

describe('oracle 12: the lock is released before the 10th try — the next try proceeds', () => {
  describe.each([
    ['built-in reaper-trylock-fails-arm64 (held 5..45)', 'builtin', [10, 35, 60]],
    ['held 5..234, the 10th try at 235 proceeds', 'trylock-last-try', tries(10, 250)],
  ] as const)('%s', (_l, name, want) => {
    const s =
      name === 'builtin'
        ? resolveScenario('reaper-trylock-fails-arm64').scenario
        : fixture('trylock-last-try');
    const last = want[want.length - 1];
    it.each(VARIANTS)('%s', (kernel) => {
      const r = run(s, kernel);
      const reaper = reaperTask(r);
      expect(reaperTries(r)).toEqual([...want]);
      const skips = tracesOf(r, 'skip_task_reaping');
      expect(skips.map((t) => t.jiffies)).toEqual(want.slice(0, -1));
      expect(skips.every((t) => t.detail.reason === 'mmap_read_trylock')).toBe(true);
      // the failed tries touched no notifier: KVM is called once, by the try that proceeds
      expect(kvmStartsBy(r, reaper.pid).map((c) => c.jiffies)).toEqual([last]);
      if (kernel === '5.8+fix') expect(r.violations).toHaveLength(0);
      else expect(r.violations.map((v) => v.jiffies)).toEqual([last, last]);
      expect(logLines(r, /^oom_reaper: reaped process 1200 /).map((l) => l.jiffies)).toEqual([
        last,
      ]);
      expect(logLines(r, /unable to reap/)).toHaveLength(0);
    });
  });
});

describe('oracle 12: the lock is held past the 10th try — "unable to reap"', () => {
  it.each(VARIANTS)('%s', (kernel) => {
    const r = run(fixture('trylock-give-up'), kernel);
    expect(reaperTries(r)).toEqual(tries(10, 250));
    expect(tracesOf(r, 'skip_task_reaping')).toHaveLength(10);
    expect(kvmStartsBy(r, reaperTask(r).pid)).toHaveLength(0);
    expect(r.violations).toHaveLength(0);
    expect(logLines(r, /^oom_reaper: /)).toEqual([
      { jiffies: 260, text: 'oom_reaper: unable to reap pid:1200 (qemu-system-aar)' },
    ]);
    const t = task(r, 1200);
    expect(t.mm!.flags.oomSkip).toBe(true);
    expect(covered(t.mm!.resident, GiB, 4 * GiB)).toBe(3 * GiB);
    expect(covered(vm(r).mapped, GiB, 4 * GiB)).toBe(3 * GiB);
  });

  // the retry period is HZ/10 whatever HZ is; the give-up comes HZ after the first try
  it.each([100, 250, 300, 1000])('HZ %i: tries every HZ/10, give-up at first try + HZ', (hz) => {
    const d = structuredClone(fixtureDoc('trylock-give-up')) as Doc & {
      steps: Record<string, unknown>[];
    };
    d.name = `trylock-give-up-hz${hz}`;
    d.hz = hz;
    d.steps[1].for = 2 * hz;
    const r = run(scenarioOf(d), '5.8');
    expect(reaperTries(r)).toEqual(tries(10, hz));
    expect(logLines(r, /^oom_reaper: unable to reap /).map((l) => l.jiffies)).toEqual([10 + hz]);
    expect(r.violations).toHaveLength(0);
  });
});
