/**
 * Every built-in scenario against the oracles, on every variant: the violations each one must
 * produce on 5.8 (derived here from the reference, not from the scenario's own description),
 * 5.8+flags identical to 5.8 (oracle 2), and none at all on 5.8+fix (oracle 3).
 */
import { describe, expect, it } from 'vitest';
import { listBuiltinScenarios, resolveScenario } from '@mnsim/scenarios';
import {
  GiB,
  KiB,
  MiB,
  SIGNATURE,
  SITE_394,
  VARIANTS,
  checks,
  normalizeRelease,
  pgdirSize,
  run,
} from './helpers.js';

const S4K = pgdirSize(4 * KiB, 40);
const times = (n: number, j: number) => Array.from({ length: n }, () => j);
const each = (js: number[], n: number) => js.flatMap((j) => times(n, j));
const TRIES = [10, 35, 60, 85, 110, 135, 160, 185, 210, 235];

/** name -> [jiffies of every 5.8 violation, jiffies of the printed ones] */
const EXPECTED: Record<string, [number[], number[]]> = {
  // oracles 1-3: gpa 1..4GiB, reaped at the kill (jiffy 10)
  'oom-reap-arm64': [times(checks(GiB, 3 * GiB, S4K), 10), [10]],
  // oracle 5: 16K pages IPA 40 (32MiB entries), 64K pages IPA 40 (512MiB), 4K IPA 48 (512GiB)
  'oom-reap-arm64-16k': [times(checks(GiB, 256 * MiB, pgdirSize(16 * KiB, 40)), 10), [10]],
  'oom-reap-arm64-64k': [times(checks(GiB, 2 * GiB, pgdirSize(64 * KiB, 40)), 10), [10]],
  'oom-reap-arm64-ipa48': [times(checks(511 * GiB, 2 * GiB, pgdirSize(4 * KiB, 48)), 10), [10]],
  // oracle 4: gpa 1.75..2.25GiB crosses 2GiB; gpa 1..1.5GiB does not
  'oom-reap-arm64-gpa-misaligned': [times(checks(0x70000000, 512 * MiB, S4K), 10), [10]],
  'oom-reap-arm64-one-pgd': [times(checks(GiB, 512 * MiB, S4K), 10), []],
  // oracle 6: blockable only
  'blockable-paths-arm64': [[], []],
  // oracle 9: the guest VMA is skipped
  'oom-reap-shared-guest-ram': [[], []],
  'oom-reap-locked-guest-ram': [[], []],
  // oracle 7
  'oom-reap-x86': [[], []],
  'oom-reap-mips': [[], []],
  'oom-reap-powerpc-book3s-hv': [[], []],
  'oom-reap-powerpc-book3s-pr': [[], []],
  'oom-reap-powerpc-e500': [[], []],
  // oracle 10: every try, 10 tries HZ/10 apart, one print
  'userptr-eagain-arm64': [each(TRIES, checks(GiB, 3 * GiB, S4K)), [10]],
  // oracle 10 again, and then the guest's fault at 300 (notifier-imbalance.spec.ts)
  'guest-livelock-arm64': [each(TRIES, checks(GiB, 3 * GiB, S4K)), [10]],
  // oracle 11: KVM never called
  'interval-eagain-arm64': [[], []],
  // oracle 12: trylock fails at 10 and 35, the try at 60 proceeds
  'reaper-trylock-fails-arm64': [times(checks(GiB, 3 * GiB, S4K), 60), [60]],
  // oracle 13: tries at 10, 35, 60 fail and walk; the exit at 70 is clean
  'victim-exits-arm64': [each([10, 35, 60], checks(GiB, 3 * GiB, S4K)), [10]],
  // oracle 15: rsync (no VM) at 10, then qemu (gpa 1..3GiB) at 20
  'oom-sysrq-arm64': [times(checks(GiB, 2 * GiB, S4K), 20), [20]],
  // oracle 8: 2 at 10 (printed), 1 at 100 (within HZ), 1 at 300 (gpa 1.5..2.5GiB, printed)
  'rate-limit-arm64': [
    [
      ...times(checks(GiB, 3 * GiB, S4K), 10),
      ...times(checks(GiB, 2 * GiB, S4K), 100),
      ...times(checks(0x60000000, GiB, S4K), 300),
    ],
    [10, 300],
  ],
};

describe('built-in scenarios', () => {
  it('every built-in has an expectation here', () => {
    expect(
      listBuiltinScenarios()
        .map((b) => b.name)
        .sort(),
    ).toEqual(Object.keys(EXPECTED).sort());
  });

  describe.each(Object.entries(EXPECTED))('%s', (name, [all, printed]) => {
    const s = resolveScenario(name).scenario;
    const runs = Object.fromEntries(VARIANTS.map((k) => [k, run(s, k)]));

    it('5.8: the violations of the reference, each at mmu.c:394 in oom_reaper', () => {
      const r = runs['5.8'];
      expect(r.violations.map((v) => v.jiffies)).toEqual(all);
      expect(r.violations.filter((v) => v.reported).map((v) => v.jiffies)).toEqual(printed);
      for (const v of r.violations) {
        expect(v).toMatchObject({ site: SITE_394, comm: 'oom_reaper', nonBlock: 1, inAtomic: 1 });
        expect(v.signature).toBe(SIGNATURE);
      }
    });

    it('5.8+flags: identical to 5.8', () => {
      const norm = (k: string) =>
        runs[k].violations.map((v) => ({ ...v, text: normalizeRelease(v.text) }));
      expect(norm('5.8+flags')).toEqual(norm('5.8'));
    });

    it('5.8+fix: no violation and nothing panics', () => {
      expect(runs['5.8+fix'].violations).toHaveLength(0);
      for (const k of VARIANTS) expect(runs[k].panicked).toBe(false);
    });
  });
});
