import { beforeAll, describe, expect, it } from 'vitest';
import {
  JIFFY_GAP,
  type Span,
  type TimelineInputEvent,
  type TimelineModel,
  buildAxis,
  buildTimeline,
  contextOf,
  detailsOf,
  eventsInSlots,
  spansInRange,
} from '../../ui/src/timeline/model.js';
import { simulate } from '@mnsim/engine';
import { LogExpander, type Violation } from '@mnsim/events';
import type { KernelVariant } from '@mnsim/kernel';
import { resolveScenario } from '@mnsim/scenarios';

/** A built-in scenario's run, its events as the store gives them back. */
function record(
  name: string,
  kernel?: KernelVariant,
): { events: TimelineInputEvent[]; violations: Violation[] } {
  const expander = new LogExpander({ verify: false });
  const events: TimelineInputEvent[] = [];
  const result = simulate(resolveScenario(name).scenario, {
    kernel,
    keepKernelLog: false,
    onLine: (line) => {
      const e = expander.line(line);
      if (e !== null) events.push(e);
    },
  });
  expect(events).toHaveLength(result.events);
  return { events, violations: result.violations };
}

const at = (m: TimelineModel, seq: number) => m.events[m.indexOfSeq.get(seq)!];
const lane = (m: TimelineModel, i: number) => m.lanes[i].name;

describe('the timeline of oom-reap-arm64 on 5.8', () => {
  let events: TimelineInputEvent[];
  let violations: Violation[];
  let m: TimelineModel;

  beforeAll(() => {
    ({ events, violations } = record('oom-reap-arm64', '5.8'));
    m = buildTimeline(events);
  });

  it('has a lane per component, from the orchestrator down to KVM', () => {
    expect(m.lanes.map((l) => l.name)).toEqual(['orchestrator', 'task', 'oom', 'mm', 'kvm:arm64']);
    expect(m.hz).toBe(250);
  });

  it('lays out virtual time: jiffies in order, then each event a slot in seq order', () => {
    expect(m.axis.blocks.map((b) => b.jiffies)).toEqual([0, 10, 500]);
    for (const b of m.axis.blocks) {
      expect(b.width).toBe(events.filter((e) => e.jiffies === b.jiffies).length);
    }
    expect(m.axis.blocks[1].start).toBe(m.axis.blocks[0].width + JIFFY_GAP);
    // slots grow with seq, each event its own
    const slots = m.events.map((e) => e.slot);
    expect(slots).toEqual([...slots].sort((a, b) => a - b));
    expect(new Set(slots).size).toBe(events.length);
    for (const [i, e] of m.events.entries()) expect(m.slotEvent[e.slot]).toBe(i);
    expect(m.slotEvent[m.axis.blocks[0].width]).toBe(-1); // the gap
  });

  it('pairs every call, step and timer with its return, the arrows going there and back', () => {
    const calls = m.arrows.filter((a) => a.kind !== 'return');
    const returns = m.arrows.filter((a) => a.kind === 'return');
    expect(calls.length).toBe(
      events.filter((e) => ['call', 'step', 'timer'].includes(e.type)).length,
    );
    expect(returns).toHaveLength(calls.length);
    for (const c of calls) {
      expect(c.pairSeq, `seq ${c.seq}`).not.toBeNull();
      const r = at(m, c.pairSeq!);
      expect(events[m.indexOfSeq.get(r.seq)!].causationId).toBe(events[c.index].id);
      expect(r.pair).toBe(c.index);
      // the return leaves the callee's lane for the caller's (a stimulus's, for the orchestrator)
      expect(r.from).toBe(c.to);
      expect(r.to).toBe(c.from);
      expect(r.slot).toBeGreaterThan(c.slot);
    }
    // the reaper's range reaches KVM from the notifier chain
    const start = m.arrows.find(
      (a) => at(m, a.seq).fn === 'kvm_mmu_notifier_invalidate_range_start',
    )!;
    expect([lane(m, start.from), lane(m, start.to), start.kind]).toEqual([
      'mm',
      'kvm:arm64',
      'call',
    ]);
    const back = at(m, start.pairSeq!);
    expect([lane(m, back.from), lane(m, back.to)]).toEqual(['kvm:arm64', 'mm']);
    // steps and timers come from the orchestrator
    const timer = m.arrows.find((a) => a.kind === 'timer')!;
    expect(at(m, timer.seq).fn).toBe('oom_reaper_run');
    expect([lane(m, timer.from), lane(m, timer.to)]).toEqual(['orchestrator', 'oom']);
  });

  it('draws each call in flight as a span on the callee lane, nested as called', () => {
    const span = (fn: string): Span => m.spans.find((s) => s.fn === fn)!;
    const reaper = span('oom_reaper_run');
    const reap = span('oom_reap_task_mm');
    const kvm = span('kvm_mmu_notifier_invalidate_range_start');
    expect([lane(m, reaper.lane), lane(m, reap.lane), lane(m, kvm.lane)]).toEqual([
      'oom',
      'mm',
      'kvm:arm64',
    ]);
    expect(reaper.x0).toBeLessThan(reap.x0);
    expect(reap.x0).toBeLessThan(kvm.x0);
    expect(kvm.x1).toBeLessThan(reap.x1);
    expect(reap.x1).toBeLessThan(reaper.x1);
    expect(m.spans.every((s) => s.end >= 0)).toBe(true);
    // each row's spans in order, none overlapping
    for (const rows of m.rows) {
      for (const row of rows) {
        for (let i = 1; i < row.length; i++) expect(row[i].x0).toBeGreaterThan(row[i - 1].x1);
      }
    }
  });

  it('marks the two violations at their events, in KVM, in the reaper that slept in atomic context', () => {
    expect(violations.map((v) => v.kind)).toEqual(['atomic-sleep', 'atomic-sleep']);
    expect(m.marks.map((k) => k.seq)).toEqual(violations.map((v) => v.seq));
    for (const mark of m.marks) {
      expect(mark.kind).toBe('atomic-sleep');
      expect(lane(m, mark.lane)).toBe('kvm:arm64');
      expect(mark.slot).toBe(at(m, mark.seq).slot);
      expect(mark.signature).toBe(
        'BUG: sleeping function called from invalid context in unmap_stage2_range',
      );
      const ctx = contextOf(m, mark.index)!;
      expect(ctx).toMatchObject({
        task: { pid: 36, comm: 'oom_reaper' },
        preemptCount: 1,
        nonBlock: 1,
        irqsDisabled: false,
      });
      expect(ctx.stack.slice(0, 2)).toEqual(['___might_sleep', 'unmap_stage2_range']);
      // the locks held when the notifier chain called KVM
      expect(ctx.locks.map((l) => l.name)).toEqual([
        '&mm->mmap_lock',
        'mmu_notifier_invalidate_range_start',
        'srcu',
      ]);
      expect(ctx.locksSource).toMatch(
        /kvm_mmu_notifier_invalidate_range_start was called \(seq \d+\)/,
      );
      expect(detailsOf(m, mark.index)).toMatchObject({
        type: 'violation',
        seq: mark.seq,
        jiffies: 10,
        violation: { site: 'arch/arm64/kvm/mmu.c:394', nonBlock: 1, inAtomic: 1 },
      });
    }
  });

  it("gives a call its own context and a return its call's", () => {
    const call = m.events.findIndex((e) => e.fn === 'kvm_mmu_notifier_invalidate_range_start');
    const c = contextOf(m, call)!;
    expect(c).toMatchObject({ task: { comm: 'oom_reaper' }, preemptCount: 0, nonBlock: 1 });
    expect(c.stack[0]).toBe('mn_hlist_invalidate_range_start');
    expect(c.stack.at(-1)).toBe('ret_from_fork');
    const ret = m.events[call].pair;
    expect(contextOf(m, ret)).toEqual({ ...c, source: expect.stringMatching(/its call/) });
    expect(detailsOf(m, ret)).toMatchObject({
      type: 'return',
      ret: 0,
      from: 'kvm:arm64',
      to: 'mm',
    });
    expect(detailsOf(m, call).args).toMatchObject({ vm: 'guest0' });
    expect(contextOf(m, 0)).toBeNull(); // run.start
  });

  it('finds what is in view: the events of a slot range, the spans of a row', () => {
    const b = m.axis.blocks[1];
    const inJiffy10 = eventsInSlots(m, b.start - 0.5, b.start + b.width - 1);
    expect(inJiffy10.map((i) => m.events[i].jiffies)).toEqual(Array(b.width).fill(10));
    expect(eventsInSlots(m, -100, m.axis.slots + 100)).toHaveLength(events.length);
    const kvmRow = m.rows[m.lanes.findIndex((l) => l.name === 'kvm:arm64')][0];
    const found: Span[] = [];
    spansInRange(kvmRow, b.start, b.start + b.width, found);
    expect(found.map((s) => s.fn)).toEqual([
      'kvm_mmu_notifier_invalidate_range_start',
      'kvm_mmu_notifier_invalidate_range_end',
    ]);
  });

  it('aligns two runs by jiffy: on 5.8+fix, the same jiffies start at the same slots', () => {
    const fix = record('oom-reap-arm64', '5.8+fix');
    expect(fix.violations).toEqual([]);
    const axis = buildAxis([events, fix.events]);
    const a = buildTimeline(events, axis);
    const b = buildTimeline(fix.events, axis);
    expect(b.marks).toEqual([]);
    for (const block of axis.blocks) {
      const first = (x: TimelineModel) => x.events.find((e) => e.jiffies === block.jiffies)?.slot;
      expect(first(a)).toBe(block.start);
      expect(first(b)).toBe(block.start);
      const n = (x: TimelineInputEvent[]) => x.filter((e) => e.jiffies === block.jiffies).length;
      expect(block.width).toBe(Math.max(n(events), n(fix.events)));
    }
  });
});

describe('the timeline of a hand-written log', () => {
  const ctx = {
    task: { pid: 1, comm: 't' },
    preemptCount: 0,
    nonBlockCount: 0,
    irqsDisabled: false,
    locks: [],
    stack: [],
  };
  const ev = (
    seq: number,
    type: TimelineInputEvent['type'],
    id: string,
    causationId: string | null,
    payload: object,
  ): TimelineInputEvent => ({ seq, id, type, causationId, jiffies: seq < 6 ? 0 : 7, payload });
  const log: TimelineInputEvent[] = [
    ev(0, 'run.start', 'run', null, { scenario: { hz: 100 } }),
    ev(1, 'step', 's0', null, { fn: 'a', to: 'mm', ctx }),
    ev(2, 'call', 's0.0', 's0', { fn: 'b', from: 'mm', to: 'mm', ctx }),
    ev(3, 'call', 's0.0.0', 's0.0', { fn: 'c', from: 'mm', to: 'kvm:x86', ctx }),
    // c never returns: the log cut it short; b's return ends it
    ev(4, 'return', 's0.0.1', 's0.0', { fn: 'b', from: 'mm', to: 'mm' }),
    ev(5, 'call', 's0.1', 's0', { fn: 'd', from: 'mm', to: 'mm', ctx }),
    ev(6, 'return', 's0.1.0', 's0.1', { fn: 'd', from: 'mm', to: 'mm' }),
    ev(7, 'return', 's0.2', 's0', { fn: 'a', from: 'mm', to: 'orchestrator' }),
    ev(8, 'step', 's1', null, { fn: 'e', to: 'task', ctx }),
    ev(9, 'run.end', 'end', null, {}),
  ];
  const m = buildTimeline(log);

  it('nests calls into the same component in rows, and ends calls the log left open', () => {
    expect(m.lanes.map((l) => [l.name, l.rows])).toEqual([
      ['orchestrator', 1],
      ['task', 1],
      ['mm', 2],
      ['kvm:x86', 1],
    ]);
    const byFn = Object.fromEntries(m.spans.map((s) => [s.fn, s]));
    expect(byFn.a).toMatchObject({ row: 0, x0: 1, x1: at(m, 7).slot });
    expect(byFn.b).toMatchObject({ row: 1, x0: 2, x1: 4 });
    expect(byFn.d).toMatchObject({ row: 1, x0: 5 });
    expect(byFn.c).toMatchObject({ end: -1, x1: 4 });
    // a step still in flight at the end runs to the last event
    expect(byFn.e).toMatchObject({ end: -1, x1: at(m, 9).slot });
    // the inner call's arrow leaves from the caller's row
    expect(at(m, 2)).toMatchObject({ fromRow: 0, toRow: 1 });
    expect(at(m, 3)).toMatchObject({ fromRow: 1, toRow: 0 });
    expect(at(m, 7)).toMatchObject({ pair: 1, to: 0 });
  });
});
