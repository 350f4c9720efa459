/**
 * A run's timeline as geometry, computed once from its events (no DOM, no canvas: unit-tested
 * under node). The renderer only looks things up here.
 *
 * - Lanes: one per component the events name (the orchestrator, task, oom, mm, kvm:<arch>…), in
 *   the order a chain usually crosses them.
 * - Time across, in slots: the jiffies that have events, in order, each a block of as many slots
 *   as it has events (or as the widest of the runs laid out together has, so that two runs align
 *   jiffy by jiffy), and within a jiffy each event its own slot in seq order. Empty jiffies take
 *   no room; a gap of JIFFY_GAP slots separates blocks.
 * - Arrows: a step or timer from the orchestrator to its component, a call from the caller's lane
 *   to the callee's, a return back (paired with its call by causationId, as the engine's
 *   Perfetto export nests them: one chain at a time, so one stack of calls in flight).
 * - Spans: a call (step, timer) in flight, on the callee's lane, in the row of its nesting depth
 *   on that lane.
 * - Marks: each violation (finding) where it happened, on the lane of the innermost call in flight.
 */
import type {
  FindingKind,
  ViolationRecord,
} from '../../../libs/kernel/src/kernel/sched/violation.js';

// a violation event's record and its kinds are the kernel's own (libs/kernel), as JSON
export type { FindingKind, ViolationRecord };

export type EventType =
  'run.start' | 'step' | 'timer' | 'call' | 'return' | 'violation' | 'run.end';

/** An event as GET /runs/:id/events (or a replay with events) gives it. */
export interface TimelineInputEvent {
  seq: number;
  id: string;
  type: EventType;
  causationId: string | null;
  jiffies: number;
  payload: unknown;
}

export interface TaskRef {
  pid: number;
  comm: string;
  kthread?: boolean;
}

export interface HeldLock {
  name: string;
  at: string;
}

/** The execution context a call carries (libs/kernel's ExecContext, as JSON). */
export interface ExecContext {
  task: TaskRef;
  cpu?: number;
  preemptCount: number;
  nonBlockCount: number;
  irqsDisabled: boolean;
  preemptDisableIp?: string | null;
  locks: HeldLock[];
  /** outermost first (ret_from_fork … the caller) */
  stack: string[];
}

interface CallLikePayload {
  fn?: string;
  from?: string;
  to?: string;
  args?: unknown;
  ctx?: ExecContext;
  step?: number | null;
}
interface ReturnLikePayload {
  fn?: string;
  from?: string;
  to?: string;
  ret?: unknown;
}

export const ORCHESTRATOR = 'orchestrator';
/** empty slots between two jiffies' blocks */
export const JIFFY_GAP = 2;

export interface Lane {
  /** the component's address: orchestrator, task, oom, mm, kvm:arm64… */
  name: string;
  /** rows of spans: the deepest nesting of calls in flight on it, at least 1 */
  rows: number;
}

export interface TimelineEvent {
  seq: number;
  id: string;
  type: EventType;
  jiffies: number;
  /** its position across */
  slot: number;
  /** the lane it happened on (a call's: the callee's; a return's: the callee's) and its row */
  lane: number;
  row: number;
  /** its arrow's lanes and rows; from = -1 when it has none (run.start, violation, run.end) */
  from: number;
  fromRow: number;
  to: number;
  toRow: number;
  fn: string | null;
  /** the matching return of a call, step or timer, or call of a return (index); -1 for none */
  pair: number;
  /** the innermost call (step, timer) in flight when it happened, before it (index); -1: none */
  frame: number;
  /** a violation's kind */
  kind: FindingKind | null;
}

export interface Span {
  lane: number;
  row: number;
  /** the call's and its return's event indexes; end -1 when the log left it open */
  begin: number;
  end: number;
  x0: number;
  x1: number;
  fn: string;
  type: 'step' | 'timer' | 'call';
}

export interface Mark {
  index: number;
  seq: number;
  lane: number;
  row: number;
  slot: number;
  kind: FindingKind;
  signature: string;
}

export interface Arrow {
  index: number;
  seq: number;
  kind: 'step' | 'timer' | 'call' | 'return';
  slot: number;
  from: number;
  to: number;
  /** the seq of the return (for a call) or call (for a return) it pairs with; null for none */
  pairSeq: number | null;
}

export interface JiffyBlock {
  jiffies: number;
  /** first slot */
  start: number;
  /** slots */
  width: number;
}

/** Virtual time laid out in slots; shared by the runs drawn together so they align. */
export interface Axis {
  blocks: JiffyBlock[];
  /** every slot, gaps included */
  slots: number;
  startOf: ReadonlyMap<number, number>;
}

export interface TimelineModel {
  source: readonly TimelineInputEvent[];
  events: TimelineEvent[];
  lanes: Lane[];
  spans: Span[];
  /** spans by lane, then row, sorted by x0 (the spans of one row never overlap) */
  rows: Span[][][];
  marks: Mark[];
  arrows: Arrow[];
  axis: Axis;
  /** the event index at each slot, -1 in the gaps */
  slotEvent: Int32Array;
  indexOfSeq: ReadonlyMap<number, number>;
  /** the run's HZ (from run.start), 0 when unknown */
  hz: number;
}

/**
 * The axis of one or more runs drawn together: each jiffy that has events in any of them, in
 * order, as wide as the run with the most events at that jiffy.
 */
export function buildAxis(runs: readonly (readonly { jiffies: number }[])[]): Axis {
  const width = new Map<number, number>();
  for (const events of runs) {
    const counts = new Map<number, number>();
    for (const e of events) counts.set(e.jiffies, (counts.get(e.jiffies) ?? 0) + 1);
    for (const [j, n] of counts) width.set(j, Math.max(width.get(j) ?? 0, n));
  }
  const blocks: JiffyBlock[] = [];
  const startOf = new Map<number, number>();
  let next = 0;
  for (const j of [...width.keys()].sort((a, b) => a - b)) {
    const w = width.get(j)!;
    blocks.push({ jiffies: j, start: next, width: w });
    startOf.set(j, next);
    next += w + JIFFY_GAP;
  }
  return { blocks, slots: Math.max(0, next - JIFFY_GAP), startOf };
}

/** Where a component's lane goes: the way a chain usually runs, from the stimulus down to KVM. */
function laneRank(name: string): number {
  if (name === ORCHESTRATOR) return 0;
  if (name === 'task') return 1;
  if (name === 'oom') return 2;
  if (name === 'mm') return 3;
  if (name.startsWith('kvm:')) return 4;
  return 5;
}

interface Frame {
  index: number;
  lane: number;
  row: number;
}

/** The timeline of a run's events (in seq order), on `axis` (by default, its own). */
export function buildTimeline(
  source: readonly TimelineInputEvent[],
  axis: Axis = buildAxis([source]),
): TimelineModel {
  // lanes: every component named, in rank then first-seen order
  const seen = new Map<string, number>([[ORCHESTRATOR, 0]]);
  const see = (name: string | undefined): void => {
    if (name !== undefined && !seen.has(name)) seen.set(name, seen.size);
  };
  for (const e of source) {
    if (e.type === 'step' || e.type === 'timer' || e.type === 'call' || e.type === 'return') {
      const p = e.payload as CallLikePayload;
      see(p.from);
      see(p.to);
    }
  }
  const names = [...seen.keys()].sort(
    (a, b) => laneRank(a) - laneRank(b) || seen.get(a)! - seen.get(b)!,
  );
  const laneOf = new Map(names.map((n, i) => [n, i]));
  const lane = (name: string | undefined): number => laneOf.get(name ?? ORCHESTRATOR) ?? 0;
  const lanes: Lane[] = names.map((name) => ({ name, rows: 1 }));

  const events: TimelineEvent[] = [];
  const spans: Span[] = [];
  const marks: Mark[] = [];
  const arrows: Arrow[] = [];
  const indexOfSeq = new Map<number, number>();
  const inJiffy = new Map<number, number>();
  const stack: Frame[] = [];
  const openOn = new Array<number>(lanes.length).fill(0);
  let hz = 0;

  const open = (index: number, l: number): number => {
    const row = openOn[l]++;
    lanes[l].rows = Math.max(lanes[l].rows, row + 1);
    stack.push({ index, lane: l, row });
    return row;
  };
  const close = (f: Frame, end: number): void => {
    openOn[f.lane]--;
    const b = events[f.index];
    spans.push({
      lane: f.lane,
      row: f.row,
      begin: f.index,
      end,
      x0: b.slot,
      x1: end >= 0 ? events[end].slot : events[events.length - 1].slot,
      fn: b.fn ?? '?',
      type: b.type as Span['type'],
    });
  };
  const rowOn = (l: number): number => {
    const top = stack.at(-1);
    return top !== undefined && top.lane === l ? top.row : 0;
  };

  for (const e of source) {
    const index = events.length;
    const k = inJiffy.get(e.jiffies) ?? 0;
    inJiffy.set(e.jiffies, k + 1);
    const start = axis.startOf.get(e.jiffies);
    if (start === undefined)
      throw new Error(`event ${e.seq}: jiffy ${e.jiffies} is not on the axis`);
    const ev: TimelineEvent = {
      seq: e.seq,
      id: e.id,
      type: e.type,
      jiffies: e.jiffies,
      slot: start + k,
      lane: 0,
      row: 0,
      from: -1,
      fromRow: 0,
      to: -1,
      toRow: 0,
      fn: null,
      pair: -1,
      frame: stack.at(-1)?.index ?? -1,
      kind: null,
    };
    events.push(ev);
    indexOfSeq.set(e.seq, index);
    switch (e.type) {
      case 'run.start': {
        const p = e.payload as { scenario?: { hz?: number } };
        hz = p.scenario?.hz ?? 0;
        break;
      }
      case 'step':
      case 'timer':
      case 'call': {
        const p = e.payload as CallLikePayload;
        ev.fn = p.fn ?? null;
        ev.from = e.type === 'call' ? lane(p.from) : 0;
        ev.fromRow = rowOn(ev.from);
        ev.to = lane(p.to);
        ev.lane = ev.to;
        ev.row = ev.toRow = open(index, ev.to);
        break;
      }
      case 'return': {
        const p = e.payload as ReturnLikePayload;
        ev.fn = p.fn ?? null;
        ev.from = ev.lane = lane(p.from);
        const at = stack.findLastIndex((f) => events[f.index].id === e.causationId);
        if (at >= 0) {
          // calls a log left open inside this one end with it
          while (stack.length > at + 1) close(stack.pop()!, -1);
          const f = stack.pop()!;
          close(f, index);
          ev.pair = f.index;
          events[f.index].pair = index;
          ev.fromRow = ev.row = f.row;
        }
        ev.to = lane(p.to);
        ev.toRow = rowOn(ev.to);
        ev.frame = stack.at(-1)?.index ?? -1;
        break;
      }
      case 'violation': {
        const v = (e.payload as { violation: ViolationRecord }).violation;
        const top = stack.at(-1);
        ev.lane = top?.lane ?? 0;
        ev.row = top?.row ?? 0;
        ev.kind = v.kind ?? 'atomic-sleep';
        marks.push({
          index,
          seq: e.seq,
          lane: ev.lane,
          row: ev.row,
          slot: ev.slot,
          kind: ev.kind,
          signature: v.signature,
        });
        break;
      }
      case 'run.end':
        break;
    }
  }
  while (stack.length > 0) close(stack.pop()!, -1);

  for (const [index, ev] of events.entries()) {
    if (ev.from < 0 || ev.type === 'violation') continue;
    arrows.push({
      index,
      seq: ev.seq,
      kind: ev.type as Arrow['kind'],
      slot: ev.slot,
      from: ev.from,
      to: ev.to,
      pairSeq: ev.pair >= 0 ? events[ev.pair].seq : null,
    });
  }

  spans.sort((a, b) => a.x0 - b.x0 || a.x1 - b.x1);
  const rows: Span[][][] = lanes.map((l) => Array.from({ length: l.rows }, () => []));
  for (const s of spans) rows[s.lane][s.row].push(s);

  const slotEvent = new Int32Array(axis.slots).fill(-1);
  for (const [index, ev] of events.entries()) slotEvent[ev.slot] = index;

  return { source, events, lanes, spans, rows, marks, arrows, axis, slotEvent, indexOfSeq, hz };
}

/** The spans of a row that overlap slots [a, b]: a binary search, then a walk. */
export function spansInRange(row: readonly Span[], a: number, b: number, out: Span[]): void {
  // the spans of a row do not overlap, so x1 grows with x0: the first with x1 >= a
  let lo = 0;
  let hi = row.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (row[mid].x1 < a) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < row.length && row[i].x0 <= b; i++) out.push(row[i]);
}

/** The indexes of the events whose slots are in [a, b], in slot order. */
export function eventsInSlots(model: TimelineModel, a: number, b: number): number[] {
  const out: number[] = [];
  const from = Math.max(0, Math.ceil(a));
  const to = Math.min(model.axis.slots - 1, Math.floor(b));
  for (let s = from; s <= to; s++) {
    const i = model.slotEvent[s];
    if (i >= 0) out.push(i);
  }
  return out;
}

/** The execution context an event shows, in the kernel's words, and where it comes from. */
export interface EventContext {
  /** what the values describe, e.g. "the call's context" or "the splat" */
  source: string;
  task: TaskRef | null;
  preemptCount: number;
  nonBlock: number;
  irqsDisabled: boolean;
  locks: HeldLock[];
  /** where the locks were read, when not from the same place as the rest */
  locksSource: string | null;
  /** innermost first */
  stack: string[];
}

function ctxOf(e: TimelineInputEvent): ExecContext | null {
  return (e.payload as CallLikePayload).ctx ?? null;
}

/**
 * The context an event ran in: a call's (step's, timer's) own; a return's, its call's; a
 * violation's, what its splat says (in_atomic() is preempt_count() != 0, as the kernel prints
 * it), with the locks of the call it happened in. run.start and run.end have none.
 */
export function contextOf(model: TimelineModel, index: number): EventContext | null {
  const ev = model.events[index];
  const e = model.source[index];
  const fromCtx = (c: ExecContext, source: string): EventContext => ({
    source,
    task: c.task,
    preemptCount: c.preemptCount,
    nonBlock: c.nonBlockCount,
    irqsDisabled: c.irqsDisabled,
    locks: c.locks,
    locksSource: null,
    stack: [...c.stack].reverse(),
  });
  switch (ev.type) {
    case 'step':
    case 'timer':
    case 'call': {
      const c = ctxOf(e);
      return c && fromCtx(c, `the ${ev.type}'s context: the caller's, at the call`);
    }
    case 'return': {
      if (ev.pair < 0) return null;
      const c = ctxOf(model.source[ev.pair]);
      return c && fromCtx(c, `its call's context (seq ${model.events[ev.pair].seq})`);
    }
    case 'violation': {
      const v = (e.payload as { violation: ViolationRecord }).violation;
      const frame = ev.frame >= 0 ? model.source[ev.frame] : null;
      const fc = frame && ctxOf(frame);
      return {
        source: 'the splat: in_atomic(), irqs_disabled(), non_block and the call trace',
        task: { pid: v.pid, comm: v.comm },
        preemptCount: v.inAtomic,
        nonBlock: v.nonBlock,
        irqsDisabled: v.irqsDisabled !== 0,
        locks: fc?.locks ?? [],
        locksSource: frame
          ? `held when ${model.events[ev.frame].fn ?? '?'} was called (seq ${frame.seq})`
          : null,
        stack: v.stack,
      };
    }
    default:
      return null;
  }
}

/** What an event is, for the side panel. */
export interface EventDetails {
  type: EventType;
  seq: number;
  jiffies: number;
  fn: string | null;
  from: string | null;
  to: string | null;
  args?: unknown;
  ret?: unknown;
  violation?: ViolationRecord;
  /** the seq of the return of a call, or of the call of a return */
  pairSeq: number | null;
}

export function detailsOf(model: TimelineModel, index: number): EventDetails {
  const ev = model.events[index];
  const e = model.source[index];
  const name = (l: number): string | null => (l >= 0 ? model.lanes[l].name : null);
  const out: EventDetails = {
    type: ev.type,
    seq: ev.seq,
    jiffies: ev.jiffies,
    fn: ev.fn,
    from: name(ev.from),
    to: name(ev.to),
    pairSeq: ev.pair >= 0 ? model.events[ev.pair].seq : null,
  };
  if (ev.type === 'step' || ev.type === 'timer' || ev.type === 'call') {
    out.args = (e.payload as CallLikePayload).args;
  } else if (ev.type === 'return') {
    out.ret = (e.payload as ReturnLikePayload).ret;
  } else if (ev.type === 'violation') {
    out.violation = (e.payload as { violation: ViolationRecord }).violation;
  }
  return out;
}
