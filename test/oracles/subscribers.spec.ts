/**
 * Other MMU-notifier subscribers on the victim's mm (reference §2, §7; §9 oracles 10 and 11):
 * a classic (hlist) subscriber failing with -EAGAIN, an interval subscriber returning false, and
 * the hlist order (newest first).
 */
import { describe, expect, it } from 'vitest';
import { resolveScenario } from '@mnsim/scenarios';
import {
  GiB,
  KiB,
  MiB,
  UNFIXED,
  VARIANTS,
  callsOf,
  checks,
  covered,
  fixture,
  kvmStartsBy,
  logLines,
  pgdirSize,
  reaperTask,
  reaperTries,
  run,
  task,
  tracesOf,
  vm,
} from './helpers.js';

const HZ = 250;
const TRIES = Array.from({ length: 10 }, (_, k) => 10 + (k * HZ) / 10); // 10, 35, …, 235
const PER_TRY = checks(GiB, 3 * GiB, pgdirSize(4 * KiB, 40)); // 2
const FAILED =
  /^userptr_mn_invalidate_range_start.* callback failed with -11 in non-blockable context\.$/;

describe('oracle 10: a classic subscriber fails with -EAGAIN (i915 userptr on guest RAM)', () => {
  describe.each(VARIANTS)('%s', (kernel) => {
    const builtin = run(resolveScenario('userptr-eagain-arm64').scenario, kernel);
    const r = run(fixture('userptr-eagain-no-exit'), kernel);
    const reaper = reaperTask(r);

    it('10 tries, HZ/10 apart, then "oom_reaper: unable to reap pid:1200 (qemu-system-aar)"', () => {
      for (const x of [builtin, r]) {
        expect(reaperTries(x)).toEqual(TRIES);
        expect(logLines(x, /^oom_reaper: unable to reap /)).toEqual([
          { jiffies: 260, text: 'oom_reaper: unable to reap pid:1200 (qemu-system-aar)' },
        ]);
        expect(logLines(x, /^oom_reaper: reaped process/)).toHaveLength(0);
      }
    });

    it('one "callback failed with -11 in non-blockable context." line per try', () => {
      expect(logLines(r, FAILED).map((l) => l.jiffies)).toEqual(TRIES);
      // pr_info, like the reaper's "unable to reap"
      for (const l of r.kernelLog.filter(
        (x) => FAILED.test(x.text) || /^oom_reaper: /.test(x.text),
      ))
        expect(l.level).toBe(6);
      expect(logLines(builtin, FAILED).map((l) => l.jiffies)).toEqual(TRIES);
    });

    it("KVM's _start still runs on every try, and never gets its _end", () => {
      const starts = kvmStartsBy(r, reaper.pid);
      expect(starts.map((c) => c.jiffies)).toEqual(TRIES);
      expect(
        callsOf(r, 'kvm_mmu_notifier_invalidate_range_end').filter(
          (c) => c.task.pid === reaper.pid,
        ),
      ).toHaveLength(0);
      // mmu_notifier_count grows by one per try
      const counts = tracesOf(r, 'kvm_mmu_notifier_invalidate_range_start')
        .filter((t) => t.stim.pid === reaper.pid)
        .map((t) => t.detail.mmuNotifierCount);
      expect(counts).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(vm(r).mmuNotifierCount).toBe(10);
      expect(vm(r).mmuNotifierSeq).toBe(0);
    });

    it('the VMA is not unmapped; MMF_OOM_SKIP is set when the reaper gives up', () => {
      const t = task(r, 1200);
      expect(covered(t.mm!.resident, GiB, 4 * GiB)).toBe(3 * GiB);
      expect(t.mm!.flags.oomSkip).toBe(true);
      expect(t.state).toBe('killed');
      // KVM's _start did unmap the stage-2 (on the first try)
      expect(vm(r).mapped).toEqual([]);
    });

    it(`violations: ${kernel === '5.8+fix' ? 'none' : 'checks × tries, one printed'}`, () => {
      for (const x of [builtin, r]) {
        if (kernel === '5.8+fix') {
          expect(x.violations).toHaveLength(0);
          continue;
        }
        expect(x.violations).toHaveLength(PER_TRY * TRIES.length);
        for (const j of TRIES) {
          expect(x.violations.filter((v) => v.jiffies === j)).toHaveLength(PER_TRY);
        }
        expect(x.violations.filter((v) => v.reported)).toHaveLength(1);
      }
    });
  });

  it.each(VARIANTS)('%s: control — a userptr that copes with non-blockable ranges', (kernel) => {
    const r = run(fixture('userptr-ok'), kernel);
    expect(reaperTries(r)).toEqual([10]);
    expect(logLines(r, /callback failed/)).toHaveLength(0);
    expect(logLines(r, /^oom_reaper: reaped process 1200 /)).toHaveLength(1);
    expect(vm(r).mmuNotifierCount).toBe(0);
    expect(r.violations).toHaveLength(kernel === '5.8+fix' ? 0 : PER_TRY);
  });

  describe.each(VARIANTS)('%s: the failing object sits on another VMA of qemu', (kernel) => {
    const r = run(fixture('userptr-other-vma'), kernel);
    const reaper = reaperTask(r);
    it('guest RAM is reaped on the first try, the other VMA never; the walk repeats', () => {
      expect(reaperTries(r)).toEqual(TRIES);
      const t = task(r, 1200);
      expect(covered(t.mm!.resident, GiB, 4 * GiB)).toBe(0);
      expect(logLines(r, FAILED)).toHaveLength(10);
      // one KVM call per VMA per try
      expect(kvmStartsBy(r, reaper.pid)).toHaveLength(20);
      // the guest VMA's start is paired with an _end, the other VMA's is not: +1 per try
      expect(vm(r).mmuNotifierCount).toBe(10);
      // empty PGD entries are walked too: the guest range crosses 2 boundaries on every try
      const walks = tracesOf(r, 'unmap_stage2_range').filter((w) => w.stim.pid === reaper.pid);
      expect(walks).toHaveLength(10);
      expect(walks.slice(1).every((w) => w.detail.unmapped === 0)).toBe(true);
      expect(r.violations).toHaveLength(kernel === '5.8+fix' ? 0 : PER_TRY * 10);
      expect(logLines(r, /^oom_reaper: unable to reap pid:1200 /)).toHaveLength(1);
    });
  });
});

describe('oracle 11: an interval subscriber overlapping the range returns false', () => {
  describe.each(VARIANTS)('%s', (kernel) => {
    const r = run(resolveScenario('interval-eagain-arm64').scenario, kernel);
    const reaper = reaperTask(r);

    it('KVM is never called by the reaper and there is no violation', () => {
      expect(kvmStartsBy(r, reaper.pid)).toHaveLength(0);
      expect(r.ranges).toBe(0);
      expect(r.violations).toHaveLength(0);
      expect(vm(r).mmuNotifierCount).toBe(0);
    });

    it('the reaper retries and gives up as for a classic subscriber', () => {
      expect(reaperTries(r)).toEqual(TRIES);
      expect(logLines(r, /^oom_reaper: unable to reap /)).toEqual([
        { jiffies: 260, text: 'oom_reaper: unable to reap pid:1200 (qemu-system-aar)' },
      ]);
      // interval callbacks print nothing on failure (only mn_hlist does)
      expect(logLines(r, /callback failed/)).toHaveLength(0);
      const fails = tracesOf(r, 'interval_invalidate').filter(
        (t) => t.stim.pid === reaper.pid && t.detail.ok === false,
      );
      expect(fails.map((t) => t.jiffies)).toEqual(TRIES);
    });

    it('the -EAGAIN comes before any classic subscriber: a failing userptr is not reached', () => {
      const x = run(fixture('interval-and-userptr'), kernel);
      expect(reaperTries(x)).toEqual(TRIES);
      expect(logLines(x, /callback failed/)).toHaveLength(0);
      expect(tracesOf(x, 'userptr_invalidate_range_start')).toHaveLength(0);
      expect(kvmStartsBy(x, reaperTask(x).pid)).toHaveLength(0);
      expect(x.violations).toHaveLength(0);
      expect(logLines(x, /^oom_reaper: unable to reap pid:1200 /)).toHaveLength(1);
    });

    it('a non-overlapping interval subscriber is not consulted', () => {
      const x = run(fixture('interval-not-overlapping'), kernel);
      expect(tracesOf(x, 'interval_invalidate')).toHaveLength(0);
      expect(reaperTries(x)).toEqual([10]);
      expect(kvmStartsBy(x, reaperTask(x).pid)).toHaveLength(1);
      expect(logLines(x, /^oom_reaper: reaped process 1200 /)).toHaveLength(1);
      expect(x.violations).toHaveLength(kernel === '5.8+fix' ? 0 : PER_TRY);
    });

    it('control: an overlapping interval subscriber that copes is consulted, the reap succeeds', () => {
      const x = run(fixture('interval-ok'), kernel);
      const consulted = tracesOf(x, 'interval_invalidate').filter(
        (t) => t.stim.pid === reaperTask(x).pid,
      );
      expect(consulted).toHaveLength(1);
      expect(consulted[0].detail).toMatchObject({ blockable: false, ok: true });
      expect(logLines(x, /^oom_reaper: reaped process 1200 /)).toHaveLength(1);
      expect(x.violations).toHaveLength(kernel === '5.8+fix' ? 0 : PER_TRY);
    });
  });
});

describe('§2.1: classic subscribers are called newest-registered first', () => {
  it.each(UNFIXED)('%s: two VMs of one process', (kernel) => {
    const r = run(fixture('two-vms-one-process'), kernel);
    const order = kvmStartsBy(r, reaperTask(r).pid).map((c) => c.args.vm);
    expect(order).toEqual(['guest-b', 'guest-a']);
    // each VM's memslot crosses one boundary
    expect(r.violations).toHaveLength(2 * checks(GiB, 1536 * MiB, pgdirSize(4 * KiB, 40)));
  });
});
