/**
 * Oracle 7 (x86, mips, powerpc book3s HV/PR and e500: 0 violations on every variant and every
 * path, OOM included; §5.5 only arm64 reschedules inside kvm_unmap_hva_range) and oracle 2 on
 * those arches (5.8+flags behaves like 5.8). Every built-in scenario and every fixture of this
 * suite is replayed on every other architecture.
 */
import { describe, expect, it } from 'vitest';
import {
  BUG_LINE,
  GiB,
  NON_ARM64,
  VARIANTS,
  builtinDocs,
  fixtureDoc,
  fixtureNames,
  guestDoc,
  kvmStartsBy,
  logLines,
  logTexts,
  normalizeRelease,
  retarget,
  run,
  scenarioOf,
  type Doc,
} from './helpers.js';

const OWN: Doc[] = [
  ...fixtureNames().map(fixtureDoc),
  guestDoc({
    name: 'two-memslots-blockable',
    memslots: [
      { gpa: 0x60000000, hva: GiB, size: GiB },
      { gpa: 0x160000000, hva: 2 * GiB, size: GiB },
    ],
    steps: [
      { at: 0, do: 'fault-in', vm: 'guest0' },
      { at: 5, do: 'mprotect', pid: 1200, start: GiB, size: 2 * GiB },
      { at: 6, do: 'migrate', pid: 1200, start: 0x7ff00000, size: 2 * 1024 * 1024 },
      { at: 7, do: 'munmap', pid: 1200, start: GiB, size: 2 * GiB },
      { at: 10, do: 'oom' },
    ],
  }),
];
const DOCS: [string, Doc][] = [...builtinDocs(), ...OWN].map((d) => [d.name, d]);

/** Reaper-originated KVM calls of the arm64 original: the generic path is arch-independent. */
const arm64Reach = new Map<string, number>();
function reachOnArm64(name: string, doc: Doc): number {
  if (!arm64Reach.has(name)) {
    const arm = doc.host as { arch: string };
    const r = run(scenarioOf(arm.arch === 'arm64' ? doc : retarget(doc, 'arm64')), '5.8');
    arm64Reach.set(name, kvmStartsBy(r, 36).length);
  }
  return arm64Reach.get(name)!;
}

describe.each(NON_ARM64)('oracle 7: %s', (arch) => {
  it.each(DOCS)('%s: 0 violations on every variant; 5.8+flags == 5.8', (name, doc) => {
    const s = scenarioOf(retarget(doc, arch));
    expect(s.host.arch).toBe(arch);
    const runs = VARIANTS.map((k) => run(s, k));
    for (const r of runs) {
      expect(r.violations).toHaveLength(0);
      expect(logTexts(r).some((t) => BUG_LINE.test(t))).toBe(false);
      // the OOM path still reaches this arch's kvm_unmap_hva_range as often as on arm64
      expect(kvmStartsBy(r, 36).length).toBe(reachOnArm64(name, doc));
    }
    const [a, b] = runs;
    expect(logTexts(b).map(normalizeRelease)).toEqual(logTexts(a).map(normalizeRelease));
    expect(b.states).toEqual(a.states);
  });
});

describe('oracle 7: the built-in per-arch OOM scenarios reap successfully', () => {
  it.each([
    'oom-reap-x86',
    'oom-reap-mips',
    'oom-reap-powerpc-book3s-hv',
    'oom-reap-powerpc-book3s-pr',
    'oom-reap-powerpc-e500',
  ])('%s', (name) => {
    const doc = DOCS.find(([n]) => n === name)![1];
    for (const kernel of VARIANTS) {
      const r = run(scenarioOf(doc), kernel);
      expect(kvmStartsBy(r, 36)).toHaveLength(1);
      expect(logLines(r, /^oom_reaper: reaped process 1200 /)).toHaveLength(1);
      expect(r.violations).toHaveLength(0);
      expect(r.panicked).toBe(false);
    }
  });
});
