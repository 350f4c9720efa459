/**
 * Oracle 6: blockable invalidations that cross stage-2 PGD boundaries call cond_resched_lock()
 * and PASS the check (preempt_count 1 == PREEMPT_LOCK_OFFSET, non_block 0): 0 violations, on
 * every variant (patch 2 keeps may_block = true there). Also the built-in blockable-paths-arm64.
 */
import { describe, expect, it } from 'vitest';
import { resolveScenario } from '@mnsim/scenarios';
import {
  GiB,
  KiB,
  MiB,
  UNFIXED,
  VARIANTS,
  checks,
  guestDoc,
  STAGE2_TABLE,
  pgdirSize,
  rangeChecks,
  run,
  scenarioOf,
  tracesOf,
  vm,
  type SlotDoc,
} from './helpers.js';

const S = pgdirSize(4 * KiB, 40); // 1GiB, the default geometry
/** every PGD entry of the default 40-bit IPA space but the last ends in a check */
const WHOLE_IPA = checks(0, 2 ** 40, S); // 1023

// guest RAM gpa 1.5GiB..4.5GiB at hva 1GiB..4GiB: 1GiB-aligned hva ranges cross gpa boundaries
const ONE_SLOT: SlotDoc[] = [{ gpa: 0x60000000, hva: GiB, size: 3 * GiB }];
// two memslots, each crossing a boundary on its own: gpa 1.5..2.5GiB and 5.5..6.5GiB
const TWO_SLOTS: SlotDoc[] = [
  { gpa: 0x60000000, hva: GiB, size: GiB },
  { gpa: 0x160000000, hva: 2 * GiB, size: GiB },
];

interface PathCase {
  path: string;
  slots: SlotDoc[];
  step: Record<string, unknown>;
  /** exact checks when the reference pins them; undefined: at least one */
  want: number | undefined;
  /** the VM's stage-2 is freed by this path */
  frees: boolean;
}

const PATHS: PathCase[] = [
  {
    path: 'munmap (unmap_vmas), gpa 3.5..4.25GiB crosses 4GiB',
    slots: ONE_SLOT,
    step: { at: 10, do: 'munmap', pid: 1200, start: 3 * GiB, size: 768 * MiB },
    want: rangeChecks(ONE_SLOT, 3 * GiB, 3 * GiB + 768 * MiB, S),
    frees: false,
  },
  {
    path: 'migration of one 2MiB THP straddling gpa 2GiB (MMU_NOTIFY_CLEAR)',
    slots: ONE_SLOT,
    step: { at: 10, do: 'migrate', pid: 1200, start: 0x5ff00000, size: 2 * MiB },
    want: rangeChecks(ONE_SLOT, 0x5ff00000, 0x5ff00000 + 2 * MiB, S),
    frees: false,
  },
  {
    path: 'mprotect of 1GiB, gpa 1.5..2.5GiB (MMU_NOTIFY_PROTECTION_VMA)',
    slots: ONE_SLOT,
    step: { at: 10, do: 'mprotect', pid: 1200, start: GiB, size: GiB },
    want: undefined,
    frees: false,
  },
  {
    path: 'munmap across two memslots, each crossing a boundary',
    slots: TWO_SLOTS,
    step: { at: 10, do: 'munmap', pid: 1200, start: GiB, size: 2 * GiB },
    want: rangeChecks(TWO_SLOTS, GiB, 3 * GiB, S),
    frees: false,
  },
  {
    path: 'destroy-vm: mmu_notifier_unregister -> release -> kvm_free_stage2_pgd',
    slots: ONE_SLOT,
    step: { at: 10, do: 'destroy-vm', vm: 'guest0' },
    want: WHOLE_IPA,
    frees: true,
  },
  {
    path: 'exit: exit_mmap -> mmu_notifier_release -> kvm_free_stage2_pgd',
    slots: ONE_SLOT,
    step: { at: 10, do: 'exit', pid: 1200 },
    want: WHOLE_IPA,
    frees: true,
  },
];

describe('oracle 6: blockable paths reach cond_resched_lock and pass it', () => {
  it('the expectations cross boundaries', () => {
    expect(PATHS.map((p) => p.want)).toEqual([1, 1, undefined, 2, 1023, 1023]);
  });

  describe.each(PATHS.map((p) => [p.path, p] as const))('%s', (_l, p) => {
    const s = scenarioOf(
      guestDoc({
        name: 'blockable',
        memslots: p.slots,
        steps: [{ at: 0, do: 'fault-in', vm: 'guest0' }, p.step],
      }),
    );
    it.each(VARIANTS)('%s', (kernel) => {
      const r = run(s, kernel);
      expect(r.violations).toHaveLength(0);
      const walks = tracesOf(r, 'unmap_stage2_range').filter((t) => t.jiffies === 10);
      expect(walks.length).toBeGreaterThan(0);
      // in the process's own context, may block, on every variant
      for (const w of walks) {
        expect(w.stim.pid).toBe(1200);
        expect(w.detail.mayBlock).toBe(true);
      }
      const n = walks.reduce((a, w) => a + Number(w.detail.checks), 0);
      if (p.want === undefined) expect(n).toBeGreaterThan(0);
      else expect(n).toBe(p.want);
      expect(vm(r).condReschedChecks).toBe(n);
      if (p.frees) expect(vm(r).mapped).toBeNull();
      else expect(vm(r).mapped).not.toBeNull();
    });
  });
});

describe('oracle 6: the built-in blockable-paths-arm64', () => {
  const s = resolveScenario('blockable-paths-arm64').scenario;
  it.each(VARIANTS)('%s: cond_resched_lock reached on every step, 0 violations', (kernel) => {
    const r = run(s, kernel);
    expect(r.violations).toHaveLength(0);
    const perJiffy = new Map<number, number>();
    for (const t of tracesOf(r, 'unmap_stage2_range')) {
      expect(t.detail.mayBlock).toBe(true);
      perJiffy.set(t.jiffies, (perJiffy.get(t.jiffies) ?? 0) + Number(t.detail.checks));
    }
    // mprotect at 10 and munmap at 30 cross gpa boundaries; migrate at 20 (2MiB) does not;
    // destroy-vm at 40 walks the whole IPA space
    expect(perJiffy.get(10)).toBeGreaterThan(0);
    expect(perJiffy.get(20) ?? 0).toBe(rangeChecks(ONE_SLOT, 0x80000000, 0x80200000, S));
    expect(perJiffy.get(30)).toBe(rangeChecks(ONE_SLOT, 0xc0000000, 0xf0000000, S));
    expect(perJiffy.get(40)).toBe(WHOLE_IPA);
    expect(vm(r).condReschedChecks).toBeGreaterThan(WHOLE_IPA);
  });
});

describe('oracle 6: VM teardown walks the whole IPA space of every §5.1 geometry', () => {
  // kvm_free_stage2_pgd: unmap_stage2_range(kvm, 0, kvm_phys_size): one check per PGD entry but
  // the last, every one passing (the process's own context, blockable)
  it.each(STAGE2_TABLE.map((r) => [`${r.page / KiB}K IPA ${r.ipa}`, r] as const))(
    '%s',
    (_l, row) => {
      const want = checks(0, 2 ** row.ipa, row.S);
      expect(want).toBe(row.entries - 1);
      const s = scenarioOf(
        guestDoc({
          name: 'teardown',
          pageSize: row.page,
          ipaBits: row.ipa,
          memslots: [{ gpa: row.S / 2, hva: GiB, size: row.S }],
          steps: [
            { at: 0, do: 'fault-in', vm: 'guest0' },
            { at: 10, do: 'destroy-vm', vm: 'guest0' },
          ],
        }),
      );
      for (const kernel of [...UNFIXED, '5.8+fix'] as const) {
        const r = run(s, kernel);
        expect(r.violations).toHaveLength(0);
        const walk = tracesOf(r, 'unmap_stage2_range');
        expect(walk).toHaveLength(1);
        expect(walk[0].detail).toMatchObject({ gpa: 0, size: 2 ** row.ipa, checks: want });
        expect(vm(r).condReschedChecks).toBe(want);
        expect(vm(r).mapped).toBeNull();
      }
    },
  );
});
