/**
 * Oracle 13 (the victim exits: exit_mmap -> mmu_notifier_release -> kvm_free_stage2_pgd, then the
 * exit-time __oom_reap_task_mm with no classic subscriber left) and oracle 14 (the stage-2 is
 * already freed: kvm_unmap_hva_range returns at once).
 */
import { describe, expect, it } from 'vitest';
import { resolveScenario } from '@mnsim/scenarios';
import {
  type KernelVariant,
  type KvmVm,
  type Sys,
  type ViolationRecord,
  dispatch,
  initialStates,
  makeContext,
  newGlobals,
  variantOf,
} from '@mnsim/kernel';
import {
  GiB,
  KiB,
  SOURCE_STACK,
  UNFIXED,
  VARIANTS,
  callsOf,
  checks,
  fixture,
  guestDoc,
  kvmStartsBy,
  logLines,
  pgdirSize,
  reaperTask,
  reaperTries,
  run,
  scenarioOf,
  task,
  tracesOf,
  vm,
} from './helpers.js';

const WHOLE_IPA = checks(0, 2 ** 40, pgdirSize(4 * KiB, 40)); // 1023

describe('oracle 13: the victim exits while the reaper is retrying', () => {
  describe.each(VARIANTS)('%s: built-in victim-exits-arm64', (kernel) => {
    const r = run(resolveScenario('victim-exits-arm64').scenario, kernel);
    const reaper = reaperTask(r);

    it('tries at 10, 35, 60 fail; the try at 85 finds MMF_OOM_SKIP and succeeds trivially', () => {
      expect(reaperTries(r)).toEqual([10, 35, 60, 85]);
      const skip = tracesOf(r, 'skip_task_reaping');
      expect(skip.map((t) => [t.jiffies, t.detail.reason])).toEqual([[85, 'MMF_OOM_SKIP']]);
      expect(logLines(r, /^oom_reaper: /)).toHaveLength(0);
      expect(kvmStartsBy(r, reaper.pid).map((c) => c.jiffies)).toEqual([10, 35, 60]);
    });

    it('exit_mmap: mmu_notifier_release first, blockable, over the whole IPA space', () => {
      const release = callsOf(r, 'kvm_mmu_notifier_release');
      expect(release.map((c) => [c.jiffies, c.task.pid])).toEqual([[70, 1200]]);
      expect(release[0].nonBlockCount).toBe(0);
      const walk = tracesOf(r, 'unmap_stage2_range').filter((t) => t.jiffies === 70);
      expect(walk).toHaveLength(1);
      expect(walk[0].stim.pid).toBe(1200);
      expect(walk[0].detail).toMatchObject({
        gpa: 0,
        size: 2 ** 40,
        checks: WHOLE_IPA,
        mayBlock: true,
      });
      // every check passed: no violation in the exiting task
      expect(r.violations.filter((v) => v.pid === 1200)).toHaveLength(0);
      expect(r.violations.every((v) => v.jiffies < 70)).toBe(true);
      expect(vm(r).mapped).toBeNull();
    });

    it('then the exit-time __oom_reap_task_mm finds no classic subscriber: no KVM call', () => {
      const release = callsOf(r, 'kvm_mmu_notifier_release')[0];
      const reap = r.ev.find((e) => e.payload.trace?.some((t) => t.what === 'exit_mmap_oom_reap'));
      expect(reap).toBeDefined();
      expect(reap!.seq).toBeGreaterThan(release.seq);
      expect(kvmStartsBy(r, 1200)).toHaveLength(0);
      expect(task(r, 1200).mm!.flags.oomSkip).toBe(true);
      expect(task(r, 1200).state).toBe('exited');
    });

    it(`violations: ${kernel === '5.8+fix' ? 'none' : '2 per failed try, all in the reaper'}`, () => {
      if (kernel === '5.8+fix') expect(r.violations).toHaveLength(0);
      else {
        expect(r.violations.map((v) => v.jiffies)).toEqual([10, 10, 35, 35, 60, 60]);
        for (const v of r.violations) expect(v.stack).toEqual(SOURCE_STACK);
      }
    });
  });

  it.each(VARIANTS)('%s: an exit during the sleep after the 10th try: no "unable to reap"', (k) => {
    const r = run(fixture('victim-exits-last-sleep'), k);
    expect(reaperTries(r)).toHaveLength(10);
    expect(logLines(r, /unable to reap/)).toHaveLength(0);
    expect(task(r, 1200).mm!.flags.oomSkip).toBe(true);
    expect(r.violations).toHaveLength(k === '5.8+fix' ? 0 : 20);
  });

  it.each(VARIANTS)('%s: a plain exit (no OOM) is blockable and clean', (kernel) => {
    const r = run(
      scenarioOf(
        guestDoc({
          name: 'plain-exit',
          memslots: [{ gpa: GiB, hva: GiB, size: 3 * GiB }],
          steps: [
            { at: 0, do: 'fault-in', vm: 'guest0' },
            { at: 10, do: 'exit', pid: 1200 },
          ],
        }),
      ),
      kernel,
    );
    expect(r.violations).toHaveLength(0);
    expect(vm(r).condReschedChecks).toBe(WHOLE_IPA);
    expect(tracesOf(r, 'exit_mmap_oom_reap')).toHaveLength(0);
  });
});

describe('oracle 14: the stage-2 is already freed (!kvm->arch.pgd)', () => {
  /**
   * No scenario reaches KVM's _start with the pgd gone: release frees it and unhooks the
   * subscriber in the same chain (the kernel gets there only by racing exit_mmap). So the kvm
   * component is driven directly, in the reaper's context inside mn_hlist (non_block 1).
   */
  function reaperCallsKvm(kernel: KernelVariant, mapped: number[] | null) {
    const s = scenarioOf(
      guestDoc({ name: 'pgd-freed', memslots: [{ gpa: GiB, hva: GiB, size: 3 * GiB }] }),
    );
    const states = initialStates('arm64');
    const guest: KvmVm = {
      name: 'guest0',
      pid: 1200,
      ipaBits: 40,
      memslots: [{ id: 0, baseGfn: GiB / 4096, npages: (3 * GiB) / 4096, userspaceAddr: GiB }],
      mapped,
      mmuNotifierCount: 0,
      mmuNotifierSeq: 0,
      tlbsDirty: 0,
      destroyed: false,
      tlbFlushes: 0,
      condReschedChecks: 0,
    };
    states.kvm.vms.push(guest);
    const violations: ViolationRecord[] = [];
    const traces: string[] = [];
    const sys: Sys = {
      hz: 250,
      variant: variantOf(kernel),
      host: s.host,
      scenario: s,
      call: () => {
        throw new Error('no call expected');
      },
      printk: () => undefined,
      trace: (_c, what) => void traces.push(what),
      violation: (_c, v) => void violations.push(v),
      arm: () => {
        throw new Error('no timer expected');
      },
    };
    // ret_from_fork … mn_hlist_invalidate_range_start, outermost first
    const outer = [...SOURCE_STACK].reverse();
    const stack = outer.slice(0, outer.indexOf('mn_hlist_invalidate_range_start') + 1);
    const ctx = makeContext(
      { pid: 36, comm: 'oom_reaper', kthread: true },
      stack,
      10,
      0,
      newGlobals(),
    );
    ctx.nonBlockCount = 1; // non_block_start() of mn_hlist_invalidate_range_start
    const ret = dispatch(
      states,
      'kvm:arm64',
      'kvm_mmu_notifier_invalidate_range_start',
      {
        vm: 'guest0',
        range: { pid: 1200, start: GiB, end: 4 * GiB, flags: 0, event: 'MMU_NOTIFY_UNMAP' },
      },
      ctx,
      sys,
    );
    return { ret, violations, traces, guest, ctx };
  }

  it.each(VARIANTS)('%s: returns 0 at once: no walk, no check, no violation', (kernel) => {
    const x = reaperCallsKvm(kernel, null);
    expect(x.ret).toBe(0);
    expect(x.violations).toHaveLength(0);
    expect(x.traces).not.toContain('unmap_stage2_range');
    expect(x.guest.condReschedChecks).toBe(0);
    expect(x.guest.mapped).toBeNull();
    // the caller's context is given back as it came
    expect(x.ctx.preemptCount).toBe(0);
    expect(x.ctx.nonBlockCount).toBe(1);
  });

  it.each(UNFIXED)('%s: control — an allocated but empty stage-2 is walked and checked', (k) => {
    const x = reaperCallsKvm(k, []);
    expect(x.traces).toContain('unmap_stage2_range');
    expect(x.violations).toHaveLength(2);
  });

  it.each(VARIANTS)('%s: after destroy-vm the reaper has no KVM subscriber to call', (kernel) => {
    const r = run(
      scenarioOf(
        guestDoc({
          name: 'destroyed-then-oom',
          memslots: [{ gpa: GiB, hva: GiB, size: 3 * GiB }],
          steps: [
            { at: 0, do: 'fault-in', vm: 'guest0' },
            { at: 5, do: 'destroy-vm', vm: 'guest0' },
            { at: 10, do: 'oom' },
          ],
        }),
      ),
      kernel,
    );
    expect(reaperTries(r)).toEqual([10]);
    expect(kvmStartsBy(r, reaperTask(r).pid)).toHaveLength(0);
    expect(r.violations).toHaveLength(0);
  });
});
