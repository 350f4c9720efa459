/**
 * Oracle 9: __oom_reap_task_mm skips VM_LOCKED, VM_HUGETLB and VM_PFNMAP VMAs (!can_madv_lru_vma)
 * and shared mappings (shmem/memfd, MAP_SHARED files). A guest whose RAM is such a VMA gets no KVM
 * call from the reaper, no violation, and its pages are not reaped.
 */
import { describe, expect, it } from 'vitest';
import { resolveScenario } from '@mnsim/scenarios';
import {
  GiB,
  UNFIXED,
  VARIANTS,
  covered,
  guestDoc,
  kvmStartsBy,
  logLines,
  reaperTask,
  reaperTries,
  run,
  scenarioOf,
  task,
  vm,
} from './helpers.js';

const SLOT = [{ gpa: GiB, hva: GiB, size: 3 * GiB }]; // 2 checks per try on 5.8

function guestWith(label: string, flags: Record<string, boolean>) {
  return scenarioOf(
    guestDoc({
      name: `reaper-skip-${label}`,
      memslots: SLOT,
      vmas: [{ start: GiB, size: 3 * GiB, ...flags }],
    }),
  );
}

const SKIPPED: [string, Record<string, boolean>][] = [
  ['shmem (anon MAP_SHARED, memfd)', { anon: true, shared: true }],
  ['shared file mapping', { anon: false, shared: true }],
  ['VM_LOCKED (mlock)', { locked: true }],
  ['VM_HUGETLB (hugetlbfs)', { hugetlb: true }],
  ['VM_PFNMAP', { pfnmap: true }],
];

describe('oracle 9: the reaper skips the guest RAM VMA', () => {
  describe.each(SKIPPED)('%s', (label, flags) => {
    const s = guestWith(
      label
        .split(' ')[0]
        .toLowerCase()
        .replace(/[^a-z]/g, ''),
      flags,
    );
    it.each(VARIANTS)('%s', (kernel) => {
      const r = run(s, kernel);
      expect(reaperTries(r)).toEqual([10]);
      expect(kvmStartsBy(r, reaperTask(r).pid)).toHaveLength(0);
      expect(r.violations).toHaveLength(0);
      // nothing reaped: host pages and stage-2 are still there
      expect(covered(task(r, 1200).mm!.resident, GiB, 4 * GiB)).toBe(3 * GiB);
      expect(covered(vm(r).mapped, GiB, 4 * GiB)).toBe(3 * GiB);
      // the try "succeeds" (nothing failed): reaped line, no retry, MMF_OOM_SKIP
      const reaped = logLines(r, /^oom_reaper: reaped process 1200 /);
      expect(reaped).toHaveLength(1);
      // and the rss it reports is the rss of the kill line: nothing was freed
      const rss = (t: string) =>
        /anon-rss:(\d+)kB, file-rss:(\d+)kB, shmem-rss:(\d+)kB/.exec(t)!.slice(1).map(Number);
      const kill = logLines(r, /^Out of memory: Killed process 1200 /);
      expect(rss(reaped[0].text)).toEqual(rss(kill[0].text));
      expect(task(r, 1200).mm!.flags.oomSkip).toBe(true);
    });
  });

  describe.each([
    ['private anonymous (the default)', {}],
    ['private file mapping (not VM_SHARED)', { anon: false, shared: false }],
  ])('control: %s is reaped', (label, flags) => {
    const s = guestWith(label.startsWith('private anon') ? 'anon' : 'file', flags);
    it.each(VARIANTS)('%s', (kernel) => {
      const r = run(s, kernel);
      expect(kvmStartsBy(r, reaperTask(r).pid)).toHaveLength(1);
      expect(covered(task(r, 1200).mm!.resident, GiB, 4 * GiB)).toBe(0);
      expect(vm(r).mapped).toEqual([]);
      expect(r.violations).toHaveLength(kernel === '5.8+fix' ? 0 : 2);
    });
  });

  it.each(UNFIXED)(
    '%s: a locked guest VMA next to a reapable one: only the latter is reaped',
    (k) => {
      const s = scenarioOf(
        guestDoc({
          name: 'reaper-skip-mixed',
          memslots: SLOT,
          vmas: [
            { start: GiB, size: 3 * GiB, locked: true },
            { start: 8 * GiB, size: GiB },
          ],
          steps: [
            { at: 0, do: 'fault-in', vm: 'guest0' },
            { at: 1, do: 'allocate', pid: 1200, size: GiB },
            { at: 10, do: 'oom' },
          ],
        }),
      );
      const r = run(s, k);
      // KVM hears about the other VMA's range, which no memslot overlaps
      const calls = kvmStartsBy(r, reaperTask(r).pid);
      expect(calls.map((c) => c.args.range)).toMatchObject([{ start: 8 * GiB, end: 9 * GiB }]);
      expect(r.violations).toHaveLength(0);
      expect(covered(task(r, 1200).mm!.resident, 8 * GiB, 9 * GiB)).toBe(0);
      expect(covered(task(r, 1200).mm!.resident, GiB, 4 * GiB)).toBe(3 * GiB);
    },
  );

  it.each(['oom-reap-shared-guest-ram', 'oom-reap-locked-guest-ram'])(
    'built-in %s: no KVM call from the reaper, no violation, on every variant',
    (name) => {
      const s = resolveScenario(name).scenario;
      for (const kernel of VARIANTS) {
        const r = run(s, kernel);
        expect(kvmStartsBy(r, reaperTask(r).pid)).toHaveLength(0);
        expect(r.violations).toHaveLength(0);
      }
    },
  );
});
