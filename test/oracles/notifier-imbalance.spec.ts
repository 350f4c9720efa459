/**
 * The range_start/range_end pairing leak (issue "Beyond one bug"), from the 5.8 sources:
 * - mn_hlist_invalidate_range_start calls every classic subscriber even after one failed, and
 *   returns the failure (mm/mmu_notifier.c:484-507, 510);
 * - __oom_reap_task_mm then skips unmap_page_range and mmu_notifier_invalidate_range_end for
 *   that VMA (mm/oom_kill.c:548-551);
 * - KVM's _start raised kvm->mmu_notifier_count (virt/kvm/kvm_main.c:429), and only its _end
 *   lowers it (kvm_main.c:453-460): the count leaks once per failed try.
 * - c2655835fd8c ("mm/mmu_notifiers: ensure range_end() is paired with range_start()", v5.12-rc5)
 *   makes the failing start call ->invalidate_range_end of every subscriber that has one (and
 *   only that op), and WARNs for a failing subscriber that has one.
 * - An interval subscriber that fails stops __mmu_notifier_invalidate_range_start before any
 *   classic subscriber runs (mm/mmu_notifier.c:519-522): nothing is owed.
 */
import { describe, expect, it } from 'vitest';
import type { KernelVariant } from '@mnsim/kernel';
import { resolveScenario } from '@mnsim/scenarios';
import {
  callsOf,
  fixture,
  fixtureDoc,
  logLines,
  reaperTries,
  retarget,
  run,
  scenarioOf,
  tracesOf,
  vm,
} from './helpers.js';

const HZ = 250;
const TRIES = Array.from({ length: 10 }, (_, k) => 10 + (k * HZ) / 10); // 10, 35, …, 235
const WITHOUT_PAIR: readonly KernelVariant[] = ['5.8', '5.8+flags', '5.8+fix'];
const WITH_PAIR: readonly KernelVariant[] = ['5.8+pair', '5.8+flags+pair', '5.8+fix+pair'];
const SIGNATURE =
  'notifier-imbalance: kvm_mmu_notifier_invalidate_range_end skipped in __oom_reap_task_mm';
/** the reaper's chain where the end is skipped, innermost first */
const REAPER_STACK = [
  '__oom_reap_task_mm',
  'oom_reap_task_mm',
  'oom_reap_task',
  'oom_reaper',
  'kthread',
  'ret_from_fork',
];
const FAILED = /callback failed with -11 in non-blockable context\.$/;

const userptrOnGuestRam = fixture('userptr-eagain-no-exit');
const onX86 = scenarioOf(retarget(fixtureDoc('userptr-eagain-no-exit'), 'x86'));

const imbalances = (r: ReturnType<typeof run>) =>
  r.findings.filter((v) => v.kind === 'notifier-imbalance');

describe('notifier-imbalance: a failed non-blockable start leaves KVM owed its _end', () => {
  describe.each(WITHOUT_PAIR)('%s', (kernel) => {
    it.each([
      ['arm64', userptrOnGuestRam],
      ['x86', onX86],
    ] as const)('%s: one finding per reaper try, where the end is skipped', (_arch, s) => {
      const r = run(s, kernel);
      expect(reaperTries(r)).toEqual(TRIES);
      const found = imbalances(r);
      expect(found.map((v) => v.jiffies)).toEqual(TRIES);
      for (const v of found) {
        expect(v).toMatchObject({
          kind: 'notifier-imbalance',
          signature: SIGNATURE,
          site: 'mm/oom_kill.c:551',
          comm: 'oom_reaper',
          reported: false,
          inAtomic: 0,
          nonBlock: 0,
        });
        expect(v.stack).toEqual(REAPER_STACK);
        expect(v.text.split('\n')[0]).toBe(`mnsim: ${SIGNATURE} (mm/oom_kill.c:551)`);
      }
      // the kernel prints nothing for it
      expect(r.kernelLog.some((l) => l.text.includes('notifier-imbalance'))).toBe(false);
      // the leak itself: the count climbs once per try and stays there
      const counts = tracesOf(r, 'kvm_mmu_notifier_invalidate_range_start').map(
        (t) => t.detail.mmuNotifierCount,
      );
      expect(counts.slice(-10)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(vm(r).mmuNotifierCount).toBe(10);
    });

    it('the built-in userptr-eagain-arm64 records them too, and its exit pays nothing back', () => {
      const r = run(resolveScenario('userptr-eagain-arm64').scenario, kernel);
      expect(imbalances(r).map((v) => v.jiffies)).toEqual(TRIES);
    });

    it('an interval subscriber that fails first: no classic subscriber ran, nothing is owed', () => {
      for (const s of [
        resolveScenario('interval-eagain-arm64').scenario,
        fixture('interval-and-userptr'),
      ]) {
        const r = run(s, kernel);
        expect(reaperTries(r)).toEqual(TRIES);
        expect(imbalances(r)).toEqual([]);
      }
    });
  });

  describe.each(WITH_PAIR)('%s (c2655835fd8c)', (kernel) => {
    it.each([
      ['arm64', userptrOnGuestRam],
      ['x86', onX86],
    ] as const)('%s: the start pairs KVM itself; no finding, no leak', (_arch, s) => {
      const r = run(s, kernel);
      // the start still fails: the reaper still gives up after 10 tries
      expect(reaperTries(r)).toEqual(TRIES);
      expect(logLines(r, FAILED).map((l) => l.jiffies)).toEqual(TRIES);
      expect(logLines(r, /^oom_reaper: unable to reap /)).toHaveLength(1);
      expect(imbalances(r)).toEqual([]);
      // KVM gets ->invalidate_range_end alone, once per try, from inside the failing start
      const ends = callsOf(r, 'kvm_mmu_notifier_invalidate_range_end').filter(
        (c) => c.args.endOnly === true,
      );
      expect(ends.map((c) => c.jiffies)).toEqual(TRIES);
      for (const c of ends) {
        expect(c.stack.at(-1)).toBe('mn_hlist_invalidate_range_start');
        // the fix's loop runs outside non_block_start/end
        expect(c.nonBlockCount).toBe(0);
      }
      expect(vm(r).mmuNotifierCount).toBe(0);
      expect(vm(r).mmuNotifierSeq).toBe(10);
      // KVM does not fail its start: the new WARN_ON(ops->invalidate_range_end) stays quiet
      expect(logLines(r, /^WARNING: /)).toEqual([]);
    });

    it('the atomic-sleep findings are those of its base: +pair fixes the pairing only', () => {
      const base = kernel.replace('+pair', '') as KernelVariant;
      const s = resolveScenario('oom-reap-arm64').scenario;
      expect(run(s, kernel).violations.map((v) => [v.jiffies, v.signature])).toEqual(
        run(s, base).violations.map((v) => [v.jiffies, v.signature]),
      );
    });
  });
});
