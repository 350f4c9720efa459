/**
 * Test support: what a trace written by `mnsim export --format perfetto` must satisfy, checked the
 * way a trace viewer reads it. Each track (pid, tid) has a stack: every B is ended by an E of the
 * same name on the same track, properly nested, none left open; timestamps never decrease on a
 * track; every track with events is named by process_name and thread_name metadata.
 */
import type { TraceEvent } from '@mnsim/engine';
import { expect } from 'vitest';

export interface CheckedTrace {
  /** the document as parsed */
  doc: { traceEvents: TraceEvent[]; displayTimeUnit?: string; otherData?: Record<string, unknown> };
  /** each track's name (thread_name), by "pid/tid" */
  names: Map<string, string>;
  /** the instant events, in file order */
  instants: TraceEvent[];
  /** the B events, in file order */
  begins: TraceEvent[];
}

const trackOf = (e: { pid: number; tid: number }): string => `${e.pid}/${e.tid}`;

/** Parses `text` and checks it; fails the test at the first event that breaks a rule. */
export function checkPerfettoTrace(text: string): CheckedTrace {
  const doc = JSON.parse(text) as CheckedTrace['doc'];
  expect(Array.isArray(doc.traceEvents)).toBe(true);
  const stacks = new Map<string, TraceEvent[]>();
  const last = new Map<string, number>();
  const names = new Map<string, string>();
  const processNames = new Map<number, string>();
  const used = new Set<string>();
  const instants: TraceEvent[] = [];
  const begins: TraceEvent[] = [];
  doc.traceEvents.forEach((e, i) => {
    const where = `traceEvents[${i}] ${JSON.stringify(e).slice(0, 200)}`;
    expect(Number.isInteger(e.pid) && Number.isInteger(e.tid), where).toBe(true);
    const track = trackOf(e);
    if (e.ph === 'M') {
      if (e.name === 'thread_name') names.set(track, String(e.args?.name));
      if (e.name === 'process_name') processNames.set(e.pid, String(e.args?.name));
      return;
    }
    used.add(track);
    expect(typeof e.ts, where).toBe('number');
    const ts = e.ts ?? NaN;
    expect(ts, `${where}: time goes back on its track`).toBeGreaterThanOrEqual(
      last.get(track) ?? 0,
    );
    last.set(track, ts);
    const stack = stacks.get(track) ?? [];
    stacks.set(track, stack);
    switch (e.ph) {
      case 'B':
        stack.push(e);
        begins.push(e);
        break;
      case 'E': {
        const b = stack.pop();
        expect(b, `${where}: an E with no B open on its track`).toBeDefined();
        expect(e.name, `${where}: ends another slice than the innermost`).toBe(b?.name);
        break;
      }
      case 'i':
        expect(e.s, where).toBe('t');
        instants.push(e);
        break;
      default:
        expect.unreachable(`${where}: unexpected phase`);
    }
  });
  for (const [track, stack] of stacks) {
    expect(
      stack.map((b) => b.name),
      `slices left open on ${track}`,
    ).toEqual([]);
  }
  for (const track of used) {
    expect(names.get(track), `track ${track} has no thread_name`).toBeTruthy();
    expect(processNames.get(Number(track.split('/')[0])), `${track}: no process_name`).toBeTruthy();
  }
  return { doc, names, instants, begins };
}

/** The checks that hold for the export of oom-reap-arm64 on 5.8: its two BUGs on the reaper. */
export function expectOomReapArm64(t: CheckedTrace): void {
  const reaper = [...t.names].find(([, name]) => name === 'oom_reaper')?.[0];
  expect(reaper).toBe('36/36');
  expect([...t.names.values()]).toEqual(
    expect.arrayContaining(['oom_reaper', 'qemu-system-aar', 'stress-ng', 'swapper/0']),
  );
  const bugs = t.instants.filter((i) => i.args?.kind === 'atomic-sleep');
  expect(bugs).toHaveLength(2);
  for (const b of bugs) {
    expect(trackOf(b)).toBe(reaper);
    expect(b.name).toBe('BUG: sleeping function called from invalid context in unmap_stage2_range');
    expect(b.args).toMatchObject({
      signature: b.name,
      site: 'arch/arm64/kvm/mmu.c:394',
      in_atomic: 1,
      irqs_disabled: 0,
      non_block: 1,
      comm: 'oom_reaper',
      pid: 36,
    });
    expect(b.args?.text).toMatch(
      /^BUG: sleeping function called from invalid context at arch\/arm64\/kvm\/mmu\.c:394\n/,
    );
  }
  expect(bugs.map((b) => b.args?.reported)).toEqual([true, false]);
  // each happened inside KVM's invalidate_range_start, called by the reaper in non-block context
  const start = t.begins.find((b) => b.name === 'kvm_mmu_notifier_invalidate_range_start');
  expect(start && trackOf(start)).toBe(reaper);
  expect(start?.args?.context).toMatchObject({
    non_block_count: 1,
    task: 'oom_reaper (pid 36, kthread)',
  });
  expect(t.doc.otherData).toMatchObject({ scenario: 'oom-reap-arm64', kernel: '5.8', hz: 250 });
  expect(t.doc.otherData?.clock).toMatch(/jiffies \* 1,000,000 \/ HZ us/);
}
