/**
 * The embedded transport: a kernel call to another component is a direct function call on the
 * same stack, and every message is still emitted as an event of the run's log, in the order the
 * distributed workers would exchange them. The sink encodes each event at once, so the shared
 * context object needs no copy. Events are built by the same EventBuilder the workers use.
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
import { type EventType, type PayloadMap, childId } from '@mnsim/events';
import { EventBuilder, type EventSink } from './event-builder.js';

export type { EmittedEvent, EventSink } from './event-builder.js';

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
  private readonly events: EventBuilder;
  private readonly frames: Frame[] = [];
  private armedThisChain: ArmedTimer[] = [];

  constructor(
    readonly scenario: Scenario,
    readonly variant: Variant,
    private readonly states: ComponentStates,
    sink: EventSink,
  ) {
    this.hz = scenario.hz;
    this.host = scenario.host;
    this.events = new EventBuilder(sink);
  }

  get eventCount(): number {
    return this.events.seq;
  }

  /** Emits an event outside any chain (run.start, run.end). */
  emitRoot<T extends EventType>(
    type: T,
    id: string,
    jiffies: number,
    payload: PayloadMap[T],
  ): void {
    this.events.emit(type, id, null, jiffies, payload);
  }

  /** Runs one stimulus's whole chain: its event, every call on the way, and its return. */
  runStimulus(stim: Stimulus, id: string, globals: KernelGlobals): StimulusOutcome {
    const ctx = makeContext(stim.task, stim.stack, stim.jiffies, stim.cpu, globals);
    this.armedThisChain = [];
    const ev = this.events;
    ev.emit(
      stim.kind,
      id,
      stim.armedBy,
      stim.jiffies,
      ev.stimulusPayload(stim.args, ctx, stim.fn, stim.step, stim.to),
    );
    const frame: Frame = { id, address: stim.to, children: 0 };
    this.frames.push(frame);
    let ret: unknown;
    try {
      ret = dispatch(this.states, stim.to, stim.fn, stim.args, ctx, this);
    } finally {
      this.frames.pop();
    }
    ev.emit(
      'return',
      childId(id, frame.children++),
      id,
      ctx.jiffies,
      ev.returnPayload(stim.fn, stim.to, ctx.globals, ret ?? null, 'orchestrator'),
    );
    return { ret, armed: this.armedThisChain };
  }

  call<F extends CallName>(ctx: ExecContext, to: Address, fn: F, args: CallArgs<F>): CallRet<F> {
    const parent = this.top();
    const id = childId(parent.id, parent.children++);
    const ev = this.events;
    ev.emit('call', id, parent.id, ctx.jiffies, ev.callPayload(args, ctx, fn, parent.address, to));
    const frame: Frame = { id, address: to, children: 0 };
    this.frames.push(frame);
    let ret: CallRet<F>;
    try {
      ret = dispatch(this.states, to, fn, args, ctx, this);
    } finally {
      this.frames.pop();
    }
    ev.emit(
      'return',
      childId(id, frame.children++),
      id,
      ctx.jiffies,
      ev.returnPayload(fn, to, ctx.globals, ret ?? null, parent.address),
    );
    return ret;
  }

  printk(ctx: ExecContext, level: LogLevel, text: string): void {
    this.events.printk(ctx, level, text);
  }

  trace(_ctx: ExecContext, what: string, detail: TraceDetail): void {
    this.events.trace(what, detail);
  }

  violation(ctx: ExecContext, v: ViolationRecord): void {
    const parent = this.top();
    const ev = this.events;
    ev.emit(
      'violation',
      childId(parent.id, parent.children++),
      parent.id,
      ctx.jiffies,
      ev.violationPayload(v),
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
    this.events.armed({ args, at, fn, id, to });
    this.armedThisChain.push({ at, to, fn, args, armedBy: parent.id, id });
  }

  private top(): Frame {
    const f = this.frames[this.frames.length - 1];
    if (!f) throw new Error('kernel call outside a chain');
    return f;
  }
}
