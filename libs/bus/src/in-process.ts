/**
 * The embedded transport: a kernel call to another component is a direct function call on the
 * same stack, and every message is still emitted as an event of the run's log, in the order the
 * distributed workers would exchange them. The sink encodes each event at once, so the shared
 * context object needs no copy.
 */
import {
  type Address,
  type ArmedTimer,
  type CallArgs,
  type CallName,
  type CallRet,
  type ComponentStates,
  type ExecContext,
  type HostSpec,
  type LogLevel,
  type PrintkLine,
  type Scenario,
  type Stimulus,
  type Sys,
  type TraceDetail,
  type Variant,
  type ViolationRecord,
  dispatch,
  makeContext,
  type KernelGlobals,
} from '@mnsim/kernel';
import {
  type ArmedTimerEntry,
  type CallPayload,
  type EventType,
  type PayloadMap,
  type ReturnPayload,
  type StimulusPayload,
  type TraceEntry,
  type ViolationPayload,
  childId,
} from '@mnsim/events';

export interface EmittedEvent<T extends EventType = EventType> {
  id: string;
  seq: number;
  type: T;
  causationId: string | null;
  jiffies: number;
  payload: PayloadMap[T];
}

export type EventSink = (e: EmittedEvent) => void;

interface Frame {
  id: string;
  address: Address;
  children: number;
}

export interface StimulusOutcome {
  ret: unknown;
  armed: ArmedTimer[];
}

export class InProcessTransport implements Sys {
  readonly hz: number;
  readonly host: HostSpec;
  private seq = 0;
  private readonly frames: Frame[] = [];
  private pendingLog: PrintkLine[] = [];
  private pendingTrace: TraceEntry[] = [];
  private pendingArmed: ArmedTimerEntry[] = [];
  private armedThisChain: ArmedTimer[] = [];

  constructor(
    readonly scenario: Scenario,
    readonly variant: Variant,
    private readonly states: ComponentStates,
    private readonly sink: EventSink,
  ) {
    this.hz = scenario.hz;
    this.host = scenario.host;
  }

  get eventCount(): number {
    return this.seq;
  }

  /** Emits an event outside any chain (run.start, run.end). */
  emitRoot<T extends EventType>(
    type: T,
    id: string,
    jiffies: number,
    payload: PayloadMap[T],
  ): void {
    this.emit(type, id, null, jiffies, payload);
  }

  /** Runs one stimulus's whole chain: its event, every call on the way, and its return. */
  runStimulus(stim: Stimulus, id: string, globals: KernelGlobals): StimulusOutcome {
    const ctx = makeContext(stim.task, stim.stack, stim.jiffies, stim.cpu, globals);
    this.armedThisChain = [];
    this.emit(
      stim.kind,
      id,
      stim.armedBy,
      stim.jiffies,
      this.stimulusPayload(stim.args, ctx, stim.fn, stim.step, stim.to),
    );
    const frame: Frame = { id, address: stim.to, children: 0 };
    this.frames.push(frame);
    let ret: unknown;
    try {
      ret = dispatch(this.states, stim.to, stim.fn, stim.args, ctx, this);
    } finally {
      this.frames.pop();
    }
    this.emit(
      'return',
      childId(id, frame.children++),
      id,
      ctx.jiffies,
      this.returnPayload(stim.fn, stim.to, ctx.globals, ret ?? null, 'orchestrator'),
    );
    return { ret, armed: this.armedThisChain };
  }

  call<F extends CallName>(ctx: ExecContext, to: Address, fn: F, args: CallArgs<F>): CallRet<F> {
    const parent = this.top();
    const id = childId(parent.id, parent.children++);
    this.emit(
      'call',
      id,
      parent.id,
      ctx.jiffies,
      this.callPayload(args, ctx, fn, parent.address, to),
    );
    const frame: Frame = { id, address: to, children: 0 };
    this.frames.push(frame);
    let ret: CallRet<F>;
    try {
      ret = dispatch(this.states, to, fn, args, ctx, this);
    } finally {
      this.frames.pop();
    }
    this.emit(
      'return',
      childId(id, frame.children++),
      id,
      ctx.jiffies,
      this.returnPayload(fn, to, ctx.globals, ret ?? null, parent.address),
    );
    return ret;
  }

  printk(ctx: ExecContext, level: LogLevel, text: string): void {
    this.pendingLog.push({ jiffies: ctx.jiffies, level, text });
  }

  trace(_ctx: ExecContext, what: string, detail: TraceDetail): void {
    this.pendingTrace.push({ detail, what });
  }

  violation(ctx: ExecContext, v: ViolationRecord): void {
    const parent = this.top();
    this.emit(
      'violation',
      childId(parent.id, parent.children++),
      parent.id,
      ctx.jiffies,
      this.violationPayload(v),
    );
  }

  arm<F extends CallName>(
    _ctx: ExecContext,
    at: number,
    to: Address,
    fn: F,
    args: CallArgs<F>,
  ): void {
    const parent = this.top();
    const id = childId(parent.id, parent.children++);
    this.pendingArmed.push({ args, at, fn, id, to });
    this.armedThisChain.push({ at, to, fn, args, armedBy: parent.id, id });
  }

  private top(): Frame {
    const f = this.frames[this.frames.length - 1];
    if (!f) throw new Error('kernel call outside a chain');
    return f;
  }

  private emit<T extends EventType>(
    type: T,
    id: string,
    causationId: string | null,
    jiffies: number,
    payload: PayloadMap[T],
  ): void {
    this.sink({ id, seq: this.seq++, type, causationId, jiffies, payload });
  }

  /**
   * What was printed, traced or armed since the last event rides on this one. The payloads are
   * built with their keys inserted in code-point order (optional ones included), so the
   * canonical encoding is native JSON.stringify with no sorting; no object spread either, which
   * is slow on V8. Taking the attachments clears them.
   */
  private take(): { armed?: ArmedTimerEntry[]; log?: PrintkLine[]; trace?: TraceEntry[] } {
    const out: { armed?: ArmedTimerEntry[]; log?: PrintkLine[]; trace?: TraceEntry[] } = {};
    if (this.pendingArmed.length > 0) {
      out.armed = this.pendingArmed;
      this.pendingArmed = [];
    }
    if (this.pendingLog.length > 0) {
      out.log = this.pendingLog;
      this.pendingLog = [];
    }
    if (this.pendingTrace.length > 0) {
      out.trace = this.pendingTrace;
      this.pendingTrace = [];
    }
    return out;
  }

  private stimulusPayload(
    args: unknown,
    ctx: ExecContext,
    fn: CallName,
    step: number | null,
    to: Address,
  ): StimulusPayload {
    const a = this.take();
    const p: Partial<StimulusPayload> = { args };
    if (a.armed) p.armed = a.armed;
    p.ctx = ctx;
    p.fn = fn;
    if (a.log) p.log = a.log;
    p.step = step;
    p.to = to;
    if (a.trace) p.trace = a.trace;
    return p as StimulusPayload;
  }

  private callPayload(
    args: unknown,
    ctx: ExecContext,
    fn: CallName,
    from: Address,
    to: Address,
  ): CallPayload {
    const a = this.take();
    const p: Partial<CallPayload> = { args };
    if (a.armed) p.armed = a.armed;
    p.ctx = ctx;
    p.fn = fn;
    p.from = from;
    if (a.log) p.log = a.log;
    p.to = to;
    if (a.trace) p.trace = a.trace;
    return p as CallPayload;
  }

  private returnPayload(
    fn: CallName,
    from: Address,
    globals: KernelGlobals,
    ret: unknown,
    to: Address | 'orchestrator',
  ): ReturnPayload {
    const a = this.take();
    const p: Partial<ReturnPayload> = {};
    if (a.armed) p.armed = a.armed;
    p.fn = fn;
    p.from = from;
    p.globals = globals;
    if (a.log) p.log = a.log;
    p.ret = ret;
    p.to = to;
    if (a.trace) p.trace = a.trace;
    return p as ReturnPayload;
  }

  private violationPayload(v: ViolationRecord): ViolationPayload {
    const a = this.take();
    const p: Partial<ViolationPayload> = {};
    if (a.armed) p.armed = a.armed;
    if (a.log) p.log = a.log;
    if (a.trace) p.trace = a.trace;
    p.violation = v;
    return p as ViolationPayload;
  }
}
