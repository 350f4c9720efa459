/**
 * Oracle 15 and §3.1: victim selection by the 5.8 oom_badness (rss + swap + page-table pages,
 * plus oom_score_adj × (totalpages / 1000), clamped to ≥ 1), ties to the later-scanned task,
 * -1000 / init never, abort while a victim lives, the "Killed process" line, no reaper delay.
 */
import { describe, expect, it } from 'vitest';
import { resolveScenario } from '@mnsim/scenarios';
import {
  GiB,
  KiB,
  MiB,
  UNFIXED,
  VARIANTS,
  fixture,
  fixtureDoc,
  logLines,
  reaperTries,
  run,
  scenarioOf,
  task,
  tracesOf,
  type Doc,
  type Run,
} from './helpers.js';

const PAGE = 4 * KiB;

/** Page-table pages of one resident range, 4-level 4K host: PTE/PMD/PUD tables per 2M/1G/512G. */
function tablePages(start: number, size: number): number {
  const regions = (r: number) => Math.floor((start + size - 1) / r) - Math.floor(start / r) + 1;
  return regions(2 * MiB) + regions(GiB) + regions(512 * GiB);
}

/** oom_badness() at 5.8 (§3.1) for one resident anonymous range. */
function badness(start: number, size: number, adj: number, memory: number): number {
  const totalpages = Math.floor(memory / PAGE);
  const points = size / PAGE + tablePages(start, size) + adj * Math.floor(totalpages / 1000);
  return points > 0 ? points : 1;
}

/** §3.1 format: "%s: Killed process %d (%s) total-vm:%lukB, anon-rss:%lukB, file-rss:%lukB,
 * shmem-rss:%lukB, UID:%u pgtables:%lukB oom_score_adj:%hd" */
const KILL_FORMAT =
  /^Out of memory: Killed process (\d+) \((.{1,15})\) total-vm:(\d+)kB, anon-rss:(\d+)kB, file-rss:(\d+)kB, shmem-rss:(\d+)kB, UID:(\d+) pgtables:(\d+)kB oom_score_adj:(-?\d+)$/;

function kills(r: Run): { jiffies: number; pid: number; text: string }[] {
  return logLines(r, /Killed process/).map((l) => {
    const m = KILL_FORMAT.exec(l.text);
    expect(m, l.text).not.toBeNull();
    return { jiffies: l.jiffies, pid: Number(m![1]), text: l.text };
  });
}

/** The reaper runs at once (no delay at 5.8): its first try is in the jiffy of each kill. */
function expectReaperImmediate(r: Run): void {
  const tries = new Set(reaperTries(r));
  for (const k of kills(r)) expect(tries.has(k.jiffies)).toBe(true);
}

function killLine(pid: number, comm: string, start: number, size: number, adj: number): string {
  const kb = size / KiB;
  const pgt = (tablePages(start, size) * PAGE) / KiB;
  return `Out of memory: Killed process ${pid} (${comm}) total-vm:${kb}kB, anon-rss:${kb}kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:${pgt}kB oom_score_adj:${adj}`;
}

describe('oracle 15: highest oom_badness wins, oom_score_adj scaled by totalpages/1000', () => {
  const QEMU = { start: GiB, size: 2 * GiB };
  const JAVA = { start: 4 * GiB, size: GiB };

  it.each([
    [300, 1300, 'java'],
    [250, 1200, 'qemu-system-aar'],
  ])('java with oom_score_adj %i: pid %i is killed', (adj, pid, comm) => {
    const d = structuredClone(fixtureDoc('select-badness-adj')) as Doc & {
      processes: Record<string, unknown>[];
    };
    d.name = `select-badness-adj-${adj}`;
    d.processes[1].oomScoreAdj = adj;
    const q = badness(QEMU.start, QEMU.size, 0, 4 * GiB);
    const j = badness(JAVA.start, JAVA.size, adj, 4 * GiB);
    expect(q).toBe(525315);
    expect(pid === 1300 ? j > q : q > j).toBe(true);
    for (const kernel of VARIANTS) {
      const r = run(scenarioOf(d), kernel);
      const k = kills(r);
      expect(k.map((x) => [x.jiffies, x.pid])).toEqual([[10, pid]]);
      const want =
        pid === 1300
          ? killLine(1300, comm, JAVA.start, JAVA.size, adj)
          : killLine(1200, comm, QEMU.start, QEMU.size, 0);
      expect(k[0].text).toBe(want);
      expectReaperImmediate(r);
      // stress-ng (oom_score_adj -1000) allocated past memory and was never chosen
      expect(task(r, 1400).state).toBe('running');
    }
  });

  it.each(VARIANTS)('%s: the scaling factor is an integer division (1999, not 1999.999)', (k) => {
    const mem = 8191995904; // 1999999 pages
    const big = badness(GiB, 3900 * MiB, 0, mem);
    const small = badness(GiB, 2 * MiB, 500, mem);
    expect([big, small]).toEqual([1000355, 1000015]);
    // exact division would make small win
    expect((2 * MiB) / PAGE + tablePages(GiB, 2 * MiB) + (500 * mem) / PAGE / 1000).toBeGreaterThan(
      big,
    );
    const r = run(fixture('select-integer-scaling'), k);
    expect(kills(r).map((x) => x.text)).toEqual([killLine(1200, 'big', GiB, 3900 * MiB, 0)]);
  });

  it.each(UNFIXED)('%s: built-in oom-sysrq-arm64: rsync, then qemu; postgres never', (kernel) => {
    const r = run(resolveScenario('oom-sysrq-arm64').scenario, kernel);
    const mem = 8 * GiB;
    const rsync = badness(4 * GiB, 256 * MiB, 300, mem);
    const qemu = badness(GiB, 2 * GiB, 0, mem);
    const java = badness(4 * GiB, GiB, 0, mem);
    expect(rsync > qemu && qemu > java).toBe(true);
    expect(kills(r).map((x) => [x.jiffies, x.pid])).toEqual([
      [10, 1600],
      [20, 1200],
    ]);
    expect(kills(r)[0].text).toBe(killLine(1600, 'rsync', 4 * GiB, 256 * MiB, 300));
    expect(task(r, 1500).state).toBe('running');
    expectReaperImmediate(r);
    // rsync's reap calls no KVM; qemu's 2GiB guest at gpa 1GiB crosses one boundary
    expect(r.violations.map((v) => v.jiffies)).toEqual([20]);
  });

  it.each(VARIANTS)('%s: an eligible task never scores 0: oom_score_adj -999 is chosen', (k) => {
    const r = run(fixture('select-clamp'), k);
    expect(badness(GiB, 64 * MiB, -999, 8 * GiB)).toBe(1);
    expect(kills(r).map((x) => x.text)).toEqual([killLine(1200, 'batch', GiB, 64 * MiB, -999)]);
  });
});

describe('oracle 15: ties go to the later-scanned task', () => {
  it.each([
    ['worker-a (1400) then worker-b (1300)', false, 1300],
    ['worker-b (1300) then worker-a (1400)', true, 1400],
  ])('%s: pid %#', (_l, reverse, pid) => {
    const d = structuredClone(fixtureDoc('select-tie')) as Doc & { processes: unknown[] };
    if (reverse) d.processes.reverse();
    d.name = `select-tie-${reverse ? 'reversed' : 'file-order'}`;
    for (const kernel of VARIANTS) {
      const r = run(scenarioOf(d), kernel);
      expect(kills(r).map((x) => x.pid)).toEqual([pid]);
    }
  });
});

describe('oracle 15: unkillable tasks', () => {
  it.each(VARIANTS)('%s: global init is never chosen, however large', (kernel) => {
    const r = run(fixture('select-init-never'), kernel);
    expect(kills(r).map((x) => x.pid)).toEqual([1300]);
    expect(task(r, 1).state).toBe('running');
  });

  it.each(VARIANTS)('%s: all -1000, allocation OOM: nothing killed and a panic', (kernel) => {
    const r = run(fixture('select-no-killable'), kernel);
    expect(kills(r)).toHaveLength(0);
    expect(logLines(r, /^Out of memory and no killable processes\.\.\.$/)).toHaveLength(1);
    expect(r.panicked).toBe(true);
    expect(logLines(r, /invoked oom-killer/).map((l) => l.jiffies)).toEqual([10]);
  });

  it.each(VARIANTS)('%s: all -1000, sysrq OOM: nothing killed, no panic', (kernel) => {
    const d = structuredClone(fixtureDoc('select-no-killable'));
    d.name = 'select-no-killable-sysrq';
    d.steps = [{ at: 10, do: 'oom' }];
    const r = run(scenarioOf(d), kernel);
    expect(kills(r)).toHaveLength(0);
    expect(logLines(r, /^Out of memory and no killable processes\.\.\.$/)).toHaveLength(1);
    expect(r.panicked).toBe(false);
  });
});

describe('oracle 15: while a victim lives without MMF_OOM_SKIP, a new OOM kills nobody', () => {
  it.each(VARIANTS)('%s', (kernel) => {
    const r = run(fixture('select-abort'), kernel);
    expect(logLines(r, /invoked oom-killer/).map((l) => l.jiffies)).toEqual([10, 300]);
    expect(kills(r).map((x) => [x.jiffies, x.pid])).toEqual([
      [10, 1200],
      [300, 1300],
    ]);
    const aborted = tracesOf(r, 'select_bad_process').filter((t) => t.detail.aborted === true);
    expect(aborted.map((t) => t.jiffies)).toEqual([50]);
    expect(logLines(r, /^oom_reaper: unable to reap pid:1200 /).map((l) => l.jiffies)).toEqual([
      260,
    ]);
    expect(task(r, 1300).state).toBe('killed');
    expectReaperImmediate(r);
  });
});
