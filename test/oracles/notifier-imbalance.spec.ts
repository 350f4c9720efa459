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
 * - A vCPU fault reads mmu_notifier_seq, resolves the pfn, takes mmu_lock and goes back to the
 *   guest while mmu_notifier_retry() is true (include/linux/kvm_host.h:1149-1167; arm64
 *   user_mem_abort, arch/arm64/kvm/mmu.c:1933; x86 direct_page_fault, mmu/mmu.c:4132): with a
 *   leaked count it never maps, the guest livelocks.
 */
import { describe, expect, it } from 'vitest';
import type { KernelVariant } from '@mnsim/kernel';
import { resolveScenario } from '@mnsim/scenarios';
import {
  type Doc,
  SOURCE_STACK,
  callsOf,
  covered,
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
/** the reaper's chain where the end is skipped, innermost first: §10's, from __oom_reap_task_mm */
const REAPER_STACK = SOURCE_STACK.slice(SOURCE_STACK.indexOf('__oom_reap_task_mm'));
const FAILED = /callback failed with -11 in non-blockable context\.$/;

const userptrOnGuestRam = fixture('userptr-eagain-no-exit');
const onX86 = scenarioOf(retarget(fixtureDoc('userptr-eagain-no-exit'), 'x86'));

const imbalances = (r: ReturnType<typeof run>) =>
  r.findings.filter((v) => v.kind === 'notifier-imbalance');
const livelocks = (r: ReturnType<typeof run>) =>
  r.findings.filter((v) => v.kind === 'guest-livelock');

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

    it('the built-ins userptr-eagain-arm64 and guest-livelock-arm64 record them too', () => {
      const r = run(resolveScenario('userptr-eagain-arm64').scenario, kernel);
      expect(imbalances(r).map((v) => v.jiffies)).toEqual(TRIES);
      const g = run(resolveScenario('guest-livelock-arm64').scenario, kernel);
      expect(imbalances(g).map((v) => v.jiffies)).toEqual(TRIES);
      expect(livelocks(g).map((v) => v.jiffies)).toEqual([300]);
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

/** `doc` with a vcpu-fault on guest0 at `gpa` added at jiffy `at`. */
function withFault(doc: Doc, at: number, gpa: number): Doc {
  const d = structuredClone(doc);
  (d.steps as object[]).push({ at, do: 'vcpu-fault', vm: 'guest0', gpa });
  return d;
}

const GUEST_PAGE = 0x80000000; // in the memslot [0x40000000, +3GiB), outside the userptr range
const faults = (r: ReturnType<typeof run>) => tracesOf(r, 'kvm_vcpu_fault').map((t) => t.detail);

describe('guest-livelock: a vCPU fault on a leaked mmu_notifier_count', () => {
  // after the reaper gave up (its 10th try at 235, "unable to reap" at 260)
  const afterLeak = (arch: 'arm64' | 'x86') => {
    const doc = withFault(fixtureDoc('userptr-eagain-no-exit'), 300, GUEST_PAGE);
    return scenarioOf(arch === 'arm64' ? doc : retarget(doc, 'x86'));
  };
  const FAULT_SITE = { arm64: 'arch/arm64/kvm/mmu.c:1933', x86: 'arch/x86/kvm/mmu/mmu.c:4132' };
  const FAULT_FN = { arm64: 'user_mem_abort', x86: 'direct_page_fault' };

  describe.each(['5.8', '5.8+fix'] as const)('%s', (kernel) => {
    it.each(['arm64', 'x86'] as const)(
      '%s: ten notifier-imbalance findings, then one guest-livelock at the fault',
      (arch) => {
        const r = run(afterLeak(arch), kernel);
        expect(imbalances(r)).toHaveLength(10);
        const [found, ...more] = livelocks(r);
        expect(more).toEqual([]);
        expect(found).toMatchObject({
          kind: 'guest-livelock',
          jiffies: 300,
          site: FAULT_SITE[arch],
          signature: `guest-livelock: mmu_notifier_retry in ${FAULT_FN[arch]}`,
          comm: arch === 'arm64' ? 'qemu-system-aar' : expect.any(String),
          pid: 1200,
          reported: false,
          inAtomic: 0,
          nonBlock: 0,
        });
        expect(found.stack[0]).toBe(FAULT_FN[arch]);
        // the fault went back to the guest without mapping the page
        expect(faults(r)).toEqual([
          { gpa: GUEST_PAGE, mapped: false, mmuNotifierCount: 10, retry: true, vm: 'guest0' },
        ]);
        expect(covered(vm(r).mapped, GUEST_PAGE, GUEST_PAGE + 4096)).toBe(0);
      },
    );
  });

  it.each(['arm64', 'x86'] as const)(
    '%s on 5.8+fix+pair: no finding, the fault maps the page',
    (arch) => {
      const r = run(afterLeak(arch), '5.8+fix+pair');
      expect(r.findings).toEqual([]);
      expect(faults(r)).toEqual([
        { gpa: GUEST_PAGE, mapped: true, mmuNotifierCount: 0, retry: false, vm: 'guest0' },
      ]);
      expect(covered(vm(r).mapped, GUEST_PAGE, GUEST_PAGE + 4096)).toBe(4096);
    },
  );

  it.each(WITHOUT_PAIR)(
    '%s: a page the killed process never had: GUP-fast misses, the slow path sees the SIGKILL, -EFAULT before any retry',
    (kernel) => {
      const doc = withFault(fixtureDoc('userptr-eagain-no-exit'), 300, GUEST_PAGE);
      doc.steps = (doc.steps as { do: string }[]).filter((st) => st.do !== 'fault-in');
      const r = run(scenarioOf(doc), kernel);
      expect(imbalances(r)).toHaveLength(10);
      expect(livelocks(r)).toEqual([]);
      expect(faults(r)).toEqual([{ gpa: GUEST_PAGE, ret: 'efault', vm: 'guest0' }]);
    },
  );

  describe.each(WITHOUT_PAIR)('%s: a fault with no leak maps the page', (kernel) => {
    it('before the OOM', () => {
      const r = run(
        scenarioOf(withFault(fixtureDoc('userptr-eagain-no-exit'), 5, GUEST_PAGE)),
        kernel,
      );
      expect(faults(r)[0]).toMatchObject({ gpa: GUEST_PAGE, mapped: true, retry: false });
      expect(livelocks(r)).toEqual([]);
    });

    it('after a blockable munmap (its range_end comes)', () => {
      const doc = withFault(fixtureDoc('userptr-ok'), 0, GUEST_PAGE);
      (doc.steps as object[]).splice(1, 0, {
        at: 0,
        do: 'munmap',
        pid: 1200,
        start: 0x40000000,
        size: 0x200000,
      });
      const r = run(scenarioOf(doc), kernel);
      expect(faults(r).at(-1)).toMatchObject({ gpa: GUEST_PAGE, mapped: true, retry: false });
      expect(r.findings.filter((v) => v.kind !== 'atomic-sleep')).toEqual([]);
    });
  });
});
