import { expandLines } from '@mnsim/events';
import { resolveScenario } from '@mnsim/scenarios';
import { describe, expect, it } from 'vitest';
import {
  type CheckedTrace,
  checkPerfettoTrace,
  expectOomReapArm64,
} from '../../../test/perfetto-check.js';
import { PerfettoConverter, type PerfettoInputEvent, perfettoTraceLines } from './perfetto.js';
import { simulate } from './simulate.js';

/** A built-in's events as a stored log gives them back: its format 2 lines, expanded. */
function logOf(name: string, kernel?: '5.8+fix'): { events: PerfettoInputEvent[] } {
  const lines: string[] = [];
  simulate(resolveScenario(name).scenario, { kernel, onLine: (l) => lines.push(l) });
  return { events: expandLines(lines, false) };
}

async function traceText(events: Iterable<PerfettoInputEvent>, runId = 'r1'): Promise<string> {
  const out: string[] = [];
  for await (const line of perfettoTraceLines(events, { runId })) out.push(line);
  return out.join('\n');
}

describe('perfetto export', () => {
  it('oom-reap-arm64 on 5.8: tasks as tracks, calls nested, the two BUGs on the reaper', async () => {
    const { events } = logOf('oom-reap-arm64');
    const text = await traceText(events);
    const t = checkPerfettoTrace(text);
    expectOomReapArm64(t);
    expect(t.doc.displayTimeUnit).toBe('ns');
    expect(t.doc.otherData).toMatchObject({ runId: 'r1', seed: 1, arch: 'arm64' });
    expect(t.names.size).toBe(4);
    // one trace event a line: the array is streamed, never built whole
    expect(text.split('\n').length).toBe(t.doc.traceEvents.length + 2);

    // the reaper's chain, nested as it was called
    const reaper = t.begins.filter((b) => b.pid === 36).map((b) => b.name);
    expect(reaper.slice(0, 3)).toEqual([
      'oom_reaper_run',
      'oom_reap_task_mm',
      'kvm_mmu_notifier_invalidate_range_start',
    ]);
    // the OOM kill's printk rides on out_of_memory's end, and the timer it armed
    const oomEnd = t.doc.traceEvents.find((e) => e.ph === 'E' && e.name === 'out_of_memory');
    expect((oomEnd?.args?.printk as string[]).join('\n')).toMatch(
      /Out of memory: Killed process 1200/,
    );
    expect(oomEnd?.args?.armed).toEqual([expect.objectContaining({ fn: 'oom_reaper_run' })]);
  });

  it('virtual time: a jiffy is 10⁶/HZ µs, its events 1 ns apart; the BUGs at jiffy 10', async () => {
    const { events } = logOf('oom-reap-arm64');
    const t = checkPerfettoTrace(await traceText(events));
    const bySeq = new Map<number, number>();
    for (const e of t.doc.traceEvents) {
      if (typeof e.args?.seq === 'number' && e.ts !== undefined) bySeq.set(e.args.seq, e.ts);
    }
    for (const e of events) {
      const ts = bySeq.get(e.seq);
      if (ts === undefined) continue;
      const first = events.find((x) => x.jiffies === e.jiffies)!.seq;
      expect(ts).toBe((e.jiffies * 4000 * 1000 + (e.seq - first)) / 1000);
    }
    expect(t.instants.map((i) => Math.floor((i.ts ?? 0) / 4000))).toEqual([10, 10]);
  });

  it('5.8+fix: the same tracks and no finding', async () => {
    const t = checkPerfettoTrace(await traceText(logOf('oom-reap-arm64', '5.8+fix').events));
    expect(t.instants).toEqual([]);
    expect(t.names.get('36/36')).toBe('oom_reaper');
  });

  it('a call whose return is missing ends with its caller, or after the last event', async () => {
    const { events } = logOf('oom-reap-arm64');
    const unfinished = (t: CheckedTrace): string[] =>
      t.doc.traceEvents.filter((e) => e.args?.unfinished).map((e) => e.name);
    const noReturn = events.filter((e) => !(e.type === 'return' && e.causationId === 's1.1.2.0'));
    expect(unfinished(checkPerfettoTrace(await traceText(noReturn)))).toEqual(['oom_reap_task_mm']);
    // cut in the reaper's chain, after its BUGs: its three open slices end after the last event
    const cut = events.filter((e) => e.seq <= 27);
    const t = checkPerfettoTrace(await traceText(cut));
    expect(unfinished(t)).toEqual([
      'kvm_mmu_notifier_invalidate_range_end',
      'oom_reap_task_mm',
      'oom_reaper_run',
    ]);
    expect(t.instants).toHaveLength(2);
  });

  it('a log must begin with run.start', () => {
    const { events } = logOf('oom-reap-arm64');
    expect(() => new PerfettoConverter().event(events[1])).toThrow(/before run\.start/);
  });
});
