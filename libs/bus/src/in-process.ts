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
  type EventType,
  type PayloadMap,
  type TraceEntry,
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
    this.emit(stim.kind, id, stim.armedBy, stim.jiffies, {
      args: stim.args,
      ctx,
      fn: stim.fn,
      step: stim.step,
      to: stim.to,
    });
    const frame: Frame = { id, address: stim.to, children: 0 };
    this.frames.push(frame);
    let ret: unknown;
    try {
      ret = dispatch(this.states, stim.to, stim.fn, stim.args, ctx, this);
    } finally {
      this.frames.pop();
    }
    this.emit('return', childId(id, frame.children++), id, ctx.jiffies, {
      fn: stim.fn,
      from: stim.to,
      globals: ctx.globals,
      ret: ret ?? null,
      to: 'orchestrator',
    });
    return { ret, armed: this.armedThisChain };
  }

  call<F extends CallName>(ctx: ExecContext, to: Address, fn: F, args: CallArgs<F>): CallRet<F> {
    const parent = this.top();
    const id = childId(parent.id, parent.children++);
    this.emit('call', id, parent.id, ctx.jiffies, { args, ctx, fn, from: parent.address, to });
    const frame: Frame = { id, address: to, children: 0 };
    this.frames.push(frame);
    let ret: CallRet<F>;
    try {
      ret = dispatch(this.states, to, fn, args, ctx, this);
    } finally {
      this.frames.pop();
    }
    this.emit('return', childId(id, frame.children++), id, ctx.jiffies, {
      fn,
      from: to,
      globals: ctx.globals,
      ret: ret ?? null,
      to: parent.address,
    });
    return ret;
  }

  printk(ctx: ExecContext, level: LogLevel, text: string): void {
    this.pendingLog.push({ jiffies: ctx.jiffies, level, text });
  }

  trace(_ctx: ExecContext, what: string, detail: TraceDetail): void {
    this.pendingTrace.push({ what, detail });
  }

  violation(ctx: ExecContext, v: ViolationRecord): void {
    const parent = this.top();
    this.emit('violation', childId(parent.id, parent.children++), parent.id, ctx.jiffies, {
      violation: v,
    });
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
    this.pendingArmed.push({ id, at, to, fn, args });
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
    const p = payload as PayloadMap[T] & {
      log?: PrintkLine[];
      trace?: TraceEntry[];
      armed?: ArmedTimerEntry[];
    };
    if (this.pendingLog.length > 0) {
      p.log = this.pendingLog;
      this.pendingLog = [];
    }
    if (this.pendingTrace.length > 0) {
      p.trace = this.pendingTrace;
      this.pendingTrace = [];
    }
    if (this.pendingArmed.length > 0) {
      p.armed = this.pendingArmed;
      this.pendingArmed = [];
    }
    this.sink({ id, seq: this.seq++, type, causationId, jiffies, payload });
  }
}
