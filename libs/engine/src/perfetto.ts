/**
 * A run's log as Chrome trace-event JSON, the format Perfetto's UI and chrome://tracing open
 * (`mnsim export --format perfetto`):
 * - each simulated task (swapper/0, the task that allocates, the victim, oom_reaper, …) is a track,
 *   pid and tid both its pid, named by `process_name`/`thread_name` metadata (M) from its comm;
 * - each step, timer and kernel call is a slice (B … E) on the track of the task it runs in,
 *   nested as it was called; its args hold the call's arguments and execution context, and its
 *   E the return value and what the callee printed, traced or armed;
 * - each finding (atomic-sleep, notifier-imbalance, guest-livelock) is an instant event (i,
 *   thread scope) on the track of its task, with the splat and the record in its args.
 *
 * A run has no wall clock. Time is virtual: a jiffy starts at jiffies × 10⁹ / HZ ns, and the
 * events of the log at one jiffy follow each other 1 ns apart in seq order, so timestamps only
 * grow. No I/O and no clock here: the CLI streams the lines out.
 */
import type {
  ArmedTimerEntry,
  Attachments,
  CallPayload,
  CanonicalEvent,
  ReturnPayload,
  RunStartPayload,
  StimulusPayload,
  TraceEntry,
  ViolationPayload,
} from '@mnsim/events';
import { type ExecContext, type Scenario, type TaskRef, findingKind } from '@mnsim/kernel';

/** An event of a run's log as format 1 has it (what a format 2 log expands to). */
export type PerfettoInputEvent = Omit<CanonicalEvent, 'payload'> & { payload: unknown };

/** One trace event of Chrome's trace-event format, as this export writes them. */
export interface TraceEvent {
  name: string;
  cat?: string;
  /** B/E: a slice's begin and end; i: an instant; M: metadata (a track's name) */
  ph: 'B' | 'E' | 'i' | 'M';
  /** microseconds, with nanoseconds as decimals; metadata events have none */
  ts?: number;
  pid: number;
  tid: number;
  /** an instant's scope: the thread's track */
  s?: 't';
  args?: Record<string, unknown>;
}

/** What the log does not say about its run, for `otherData`. */
export interface PerfettoRunInfo {
  runId?: string;
  logHash?: string | null;
}

/** How time was derived, as `otherData.clock` says it. */
export const PERFETTO_CLOCK =
  'virtual: a run has no wall clock. A jiffy starts at jiffies * 1,000,000 / HZ us; the events ' +
  "of the run's log at one jiffy follow each other 1 ns apart in seq order (the n-th event of " +
  'the jiffy at n ns), so timestamps never decrease on a track and a jiffy (at least 1 ms) ' +
  'holds up to a million events before the next one begins';

const NS_PER_SEC = 1_000_000_000;

interface Track {
  pid: number;
  comm: string;
}

/** A slice begun and not yet ended, with what the code running in it attached on the way. */
interface OpenSlice {
  id: string;
  name: string;
  cat: string;
  track: Track;
  printk: string[];
  trace: TraceEntry[];
  armed: ArmedTimerEntry[];
}

/**
 * Converts a run's events, in seq order, to trace events. Slices are closed by the return whose
 * causationId is their id; `finish()` closes any the log left open (a chain cut short).
 */
export class PerfettoConverter {
  private hz = 0;
  private scenario: Scenario | null = null;
  private jiffy = -1;
  private inJiffy = 0;
  private lastNs = -1;
  private readonly tracks = new Map<number, Track>();
  /** the calls in flight, outermost first: one chain at a time, so one stack for the run */
  private readonly open: OpenSlice[] = [];

  /** The trace events of the log's next event. @throws Error when the log does not begin with run.start */
  event(e: PerfettoInputEvent): TraceEvent[] {
    if (e.type === 'run.start') {
      const p = e.payload as RunStartPayload;
      this.scenario = p.scenario;
      this.hz = p.scenario.hz;
    } else if (this.hz === 0) {
      throw new Error(`event ${e.seq} (${e.type}) comes before run.start`);
    }
    const ts = this.tick(e.jiffies);
    const out: TraceEvent[] = [];
    switch (e.type) {
      case 'step':
      case 'timer': {
        const p = e.payload as StimulusPayload;
        const step = p.step === null ? undefined : this.scenario?.steps[p.step];
        this.begin(out, e, ts, p.ctx, p.fn, `${e.type},${p.to}`, p, {
          ...(p.step === null ? {} : { step: p.step, do: step?.do }),
          to: p.to,
          args: p.args,
        });
        break;
      }
      case 'call': {
        const p = e.payload as CallPayload;
        this.begin(out, e, ts, p.ctx, p.fn, `call,${p.to}`, p, {
          from: p.from,
          to: p.to,
          args: p.args,
        });
        break;
      }
      case 'return':
        this.end(out, e, ts, e.payload as ReturnPayload);
        break;
      case 'violation':
        this.instant(out, e, ts, e.payload as ViolationPayload);
        break;
      case 'run.start':
      case 'run.end':
        break;
    }
    return out;
  }

  /** The ends of the slices the log left open, innermost first, after its last event. */
  finish(): TraceEvent[] {
    const out: TraceEvent[] = [];
    while (this.open.length > 0) {
      const ts = this.nextTs();
      out.push(this.endOf(this.open.pop()!, ts, { unfinished: true }));
    }
    return out;
  }

  /** The trace's `otherData`: which run, and how time was derived. */
  otherData(info: PerfettoRunInfo = {}): Record<string, unknown> {
    return {
      source: 'mnsim export --format perfetto',
      runId: info.runId,
      scenario: this.scenario?.name,
      kernel: this.scenario?.kernel,
      arch: this.scenario?.host.arch,
      seed: this.scenario?.seed,
      logHash: info.logHash ?? undefined,
      hz: this.hz,
      clock: PERFETTO_CLOCK,
    };
  }

  /** The timestamp of the next event at `jiffies`, in µs. */
  private tick(jiffies: number): number {
    if (jiffies !== this.jiffy) {
      this.jiffy = jiffies;
      this.inJiffy = 0;
    }
    const ns = Math.floor((jiffies * NS_PER_SEC) / this.hz) + this.inJiffy++;
    // past a million events in one jiffy, the next ones run on rather than go back
    this.lastNs = Math.max(ns, this.lastNs + 1);
    return this.lastNs / 1000;
  }

  private nextTs(): number {
    this.lastNs++;
    return this.lastNs / 1000;
  }

  /** The track of `task`, its metadata written before its first event. */
  private track(out: TraceEvent[], task: Pick<TaskRef, 'pid' | 'comm'>): Track {
    let t = this.tracks.get(task.pid);
    if (t === undefined) {
      t = { pid: task.pid, comm: task.comm };
      const order = this.tracks.size;
      this.tracks.set(task.pid, t);
      const meta = (name: string, args: Record<string, unknown>): TraceEvent => ({
        name,
        ph: 'M',
        pid: task.pid,
        tid: task.pid,
        args,
      });
      out.push(
        meta('process_name', { name: task.comm }),
        meta('thread_name', { name: task.comm }),
        // tracks in the order their tasks first ran
        meta('process_sort_index', { sort_index: order }),
      );
    }
    return t;
  }

  private begin(
    out: TraceEvent[],
    e: PerfettoInputEvent,
    ts: number,
    ctx: ExecContext,
    name: string,
    cat: string,
    attached: Attachments,
    args: Record<string, unknown>,
  ): void {
    const track = this.track(out, ctx.task);
    const slice: OpenSlice = { id: e.id, name, cat, track, printk: [], trace: [], armed: [] };
    // what the caller did since the previous event belongs to the caller's slice
    this.attach(this.open.at(-1) ?? slice, attached);
    this.open.push(slice);
    out.push({
      name,
      cat,
      ph: 'B',
      ts,
      pid: track.pid,
      tid: track.pid,
      args: { seq: e.seq, id: e.id, ...args, context: contextArgs(ctx) },
    });
  }

  private end(out: TraceEvent[], e: PerfettoInputEvent, ts: number, p: ReturnPayload): void {
    const at = this.open.findLastIndex((s) => s.id === e.causationId);
    // a return for no call in flight ends nothing (a well-formed log has none)
    if (at < 0) return;
    // calls a log left open inside this one end with it
    while (this.open.length > at + 1)
      out.push(this.endOf(this.open.pop()!, ts, { unfinished: true }));
    const slice = this.open.pop()!;
    // what the callee did before returning belongs to its slice
    this.attach(slice, p);
    out.push(this.endOf(slice, ts, { returnSeq: e.seq, ret: p.ret }));
  }

  private endOf(slice: OpenSlice, ts: number, args: Record<string, unknown>): TraceEvent {
    return {
      name: slice.name,
      cat: slice.cat,
      ph: 'E',
      ts,
      pid: slice.track.pid,
      tid: slice.track.pid,
      args: {
        ...args,
        ...(slice.printk.length > 0 ? { printk: slice.printk } : {}),
        ...(slice.trace.length > 0 ? { trace: slice.trace } : {}),
        ...(slice.armed.length > 0 ? { armed: slice.armed } : {}),
      },
    };
  }

  private instant(out: TraceEvent[], e: PerfettoInputEvent, ts: number, p: ViolationPayload): void {
    const v = p.violation;
    const inner = this.open.at(-1);
    if (inner) this.attach(inner, p);
    const track = this.track(out, v);
    out.push({
      name: v.signature,
      cat: findingKind(v),
      ph: 'i',
      ts,
      pid: track.pid,
      tid: track.pid,
      s: 't',
      args: {
        seq: e.seq,
        id: e.id,
        kind: findingKind(v),
        signature: v.signature,
        site: v.site,
        reported: v.reported,
        // as the splat prints them: in_atomic() is preempt_count() != 0
        in_atomic: v.inAtomic,
        irqs_disabled: v.irqsDisabled,
        non_block: v.nonBlock,
        pid: v.pid,
        comm: v.comm,
        jiffies: v.jiffies,
        stack: v.stack,
        text: v.text,
      },
    });
  }

  private attach(slice: OpenSlice, a: Attachments): void {
    if (a.log) for (const l of a.log) slice.printk.push(l.text);
    if (a.trace) slice.trace.push(...a.trace);
    if (a.armed) slice.armed.push(...a.armed);
  }
}

/** An execution context in the kernel's words, for a slice's args. */
function contextArgs(ctx: ExecContext): Record<string, unknown> {
  return {
    task: `${ctx.task.comm} (pid ${ctx.task.pid}${ctx.task.kthread ? ', kthread' : ''})`,
    cpu: ctx.cpu,
    preempt_count: ctx.preemptCount,
    non_block_count: ctx.nonBlockCount,
    irqs_disabled: ctx.irqsDisabled,
    preempt_disable_ip: ctx.preemptDisableIp,
    locks: ctx.locks.map((l) => `${l.name} at ${l.at}`),
    stack: ctx.stack,
  };
}

/**
 * The whole trace as lines of one JSON document, `{"displayTimeUnit":"ns","otherData":{…},
 * "traceEvents":[…]}`, one trace event a line: streamed, never the whole array in memory. Both
 * keys come before the array, where a streaming reader looks for them (Perfetto reads
 * displayTimeUnit only there); otherData is written once run.start has named the run.
 */
export async function* perfettoTraceLines(
  events: AsyncIterable<PerfettoInputEvent> | Iterable<PerfettoInputEvent>,
  info: PerfettoRunInfo = {},
): AsyncGenerator<string> {
  const converter = new PerfettoConverter();
  const head = (): string =>
    `{"displayTimeUnit":"ns","otherData":${JSON.stringify(converter.otherData(info))},"traceEvents":[`;
  // each line but the last ends with a comma: one line is held back until the next comes
  let held: string | null = null;
  for await (const t of traceEvents(converter, events)) {
    if (held === null) yield head();
    else yield `${held},`;
    held = JSON.stringify(t);
  }
  if (held === null) yield head();
  else yield held;
  yield ']}';
}

async function* traceEvents(
  converter: PerfettoConverter,
  events: AsyncIterable<PerfettoInputEvent> | Iterable<PerfettoInputEvent>,
): AsyncGenerator<TraceEvent> {
  for await (const e of events) yield* converter.event(e);
  yield* converter.finish();
}
