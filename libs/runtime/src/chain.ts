/**
 * The one kernel `Sys` of a call chain, whatever carries it. It runs component handlers, gives
 * every call, return, violation, printk, trace and timer its event and its place in the chain
 * (ids, causation, seq), and keeps the chain's cursor: the next seq, the run's violations, the
 * timers this chain armed.
 *
 * What differs between the embedded engine and the cluster is only how a call to another
 * component is answered, and that is the `CallResolver` it is given:
 * - in-process (in-process.ts): the callee's handler runs here, on the same stack;
 * - re-execution (execute.ts): the reply recorded for that call, or, where there is none yet,
 *   the handler stops there and the call goes out as a message.
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
  type Sys,
  type TraceDetail,
  type Variant,
  type ViolationRecord,
  dispatch,
} from '@mnsim/kernel';
import { childId } from '@mnsim/events';
import type { EventBuilder } from './event-builder.js';
import type { Cursor } from './messages.js';

/**
 * Answers a call the chain makes to another component (`id`: the call's event, already emitted).
 * Positional, no object: in-process, this runs for every kernel call.
 */
export type CallResolver = <F extends CallName>(
  sys: ChainSys,
  ctx: ExecContext,
  id: string,
  from: Address,
  to: Address,
  fn: F,
  args: CallArgs<F>,
) => CallRet<F>;

/** Who a handler returns to: the caller's component, or the orchestrator for a stimulus. */
export type ReturnTo = Address | 'orchestrator';

interface Frame {
  id: string;
  address: Address;
  children: number;
}

/** A JSON copy: what crosses a message boundary, or is kept past the call that made it. */
export const jsonClone = <T>(v: T): T =>
  v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);

export class ChainSys implements Sys {
  readonly hz: number;
  readonly host: HostSpec;
  /** the run's violations so far (the chain's cursor) */
  violations = 0;
  /** the timers armed by this chain (the chain's cursor) */
  armed: ArmedTimer[] = [];
  private readonly frames: Frame[] = [];

  constructor(
    readonly scenario: Scenario,
    readonly variant: Variant,
    readonly events: EventBuilder,
    private readonly resolve: CallResolver,
  ) {
    this.hz = scenario.hz;
    this.host = scenario.host;
  }

  /** Where the chain stands: to start it from, or to hand back with a message. */
  cursor(): Cursor {
    return { seq: this.events.seq, violations: this.violations, armed: this.armed };
  }

  /** Continues the chain from a cursor a message brought. */
  resume(cursor: Cursor): void {
    this.events.seq = cursor.seq;
    this.violations = cursor.violations;
    // most chains start with none: no copy for them (this runs once per chain in-process)
    this.armed = cursor.armed.length === 0 ? [] : (jsonClone(cursor.armed) as ArmedTimer[]);
  }

  /**
   * Runs a handler as the frame `id` (the event that asked for it) and emits its return to
   * `returnTo`. An exception (a Suspend, a kernel BUG) leaves the frame and goes to the caller.
   */
  runHandler<F extends CallName>(
    states: ComponentStates,
    id: string,
    address: Address,
    fn: F,
    args: CallArgs<F>,
    ctx: ExecContext,
    returnTo: ReturnTo,
  ): CallRet<F> {
    const frame: Frame = { id, address, children: 0 };
    this.frames.push(frame);
    let ret: CallRet<F>;
    try {
      ret = dispatch(states, address, fn, args, ctx, this);
    } finally {
      this.frames.pop();
    }
    const ev = this.events;
    ev.emit(
      'return',
      childId(id, frame.children++),
      id,
      ctx.jiffies,
      ev.returnPayload(fn, address, ctx.globals, ret ?? null, returnTo),
    );
    return ret;
  }

  call<F extends CallName>(ctx: ExecContext, to: Address, fn: F, args: CallArgs<F>): CallRet<F> {
    const parent = this.top();
    const id = childId(parent.id, parent.children++);
    const ev = this.events;
    ev.emit('call', id, parent.id, ctx.jiffies, ev.callPayload(args, ctx, fn, parent.address, to));
    return this.resolve(this, ctx, id, parent.address, to, fn, args);
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
    this.violations++;
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
    this.armed.push({ at, to, fn, args: jsonClone(args), armedBy: parent.id, id });
  }

  private top(): Frame {
    const f = this.frames[this.frames.length - 1];
    if (!f) throw new Error('kernel call outside a chain');
    return f;
  }
}
