/**
 * Re-execution of one component handler, Temporal-style. A worker that gets a message for a
 * handler (its invoke, or the reply to a call it made) runs the handler again from the component
 * state taken when the handler started, with a Sys whose `call()` answers from the replies
 * recorded so far; the first call without a reply is sent and the run of the handler stops there
 * (Suspend). Handlers are deterministic, so every re-execution retraces the same path: the events
 * it already emitted are recognised by their position and not emitted again.
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
  componentOf,
  dispatch,
  snapshotContext,
} from '@mnsim/kernel';
import { encodePayload, childId } from '@mnsim/events';
import { EventBuilder, type EmittedEvent } from './event-builder.js';
import type { Cursor, InvokeMessage, WireEvent } from './messages.js';

/** Thrown through the handler at the first call that has no reply yet; never escapes `execute`. */
class Suspend extends Error {
  static readonly INSTANCE = new Suspend('suspended at a call without a reply');
}

export interface RecordedReply {
  ret: unknown;
  ctx: ExecContext;
  cursor: Cursor;
}

export interface PendingCall {
  id: string;
  index: number;
  to: Address;
  fn: CallName;
  args: unknown;
  ctx: ExecContext;
}

export type Execution =
  | { kind: 'suspended'; events: WireEvent[]; emitted: number; call: PendingCall; cursor: Cursor }
  | {
      kind: 'returned';
      events: WireEvent[];
      emitted: number;
      ret: unknown;
      ctx: ExecContext;
      cursor: Cursor;
      /** the component's state after the handler (null for the stateless task component) */
      state: unknown;
    };

export interface ExecuteInput {
  scenario: Scenario;
  variant: Variant;
  invoke: InvokeMessage;
  /** the component's state when the handler started (JSON; not mutated) */
  snapshot: unknown;
  replies: readonly RecordedReply[];
  /** how many events earlier executions of this handler already emitted */
  emitted: number;
}

const clone = <T>(v: T): T => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T));

/** Copies the context a callee handed back into the caller's context object, in place. */
function restoreContext(target: ExecContext, from: ExecContext): void {
  target.cpu = from.cpu;
  Object.assign(target.globals, from.globals);
  target.irqsDisabled = from.irqsDisabled;
  target.jiffies = from.jiffies;
  target.locks.splice(0, target.locks.length, ...from.locks.map((l) => ({ ...l })));
  target.nonBlockCount = from.nonBlockCount;
  target.preemptCount = from.preemptCount;
  target.preemptDisableIp = from.preemptDisableIp;
  target.stack.splice(0, target.stack.length, ...from.stack);
  Object.assign(target.task, from.task);
}

class ReplayingSys implements Sys {
  readonly hz: number;
  readonly host: HostSpec;
  readonly events: EventBuilder;
  readonly fresh: WireEvent[] = [];
  /** events emitted by this execution, fresh or already sent */
  position = 0;
  children = 0;
  violations: number;
  armed: ArmedTimer[];
  pending: PendingCall | null = null;
  private calls = 0;

  constructor(
    readonly scenario: Scenario,
    readonly variant: Variant,
    private readonly frameId: string,
    private readonly address: Address,
    cursor: Cursor,
    private readonly replies: readonly RecordedReply[],
    private readonly alreadyEmitted: number,
  ) {
    this.hz = scenario.hz;
    this.host = scenario.host;
    this.violations = cursor.violations;
    this.armed = clone(cursor.armed) as ArmedTimer[];
    this.events = new EventBuilder((e) => this.sink(e), cursor.seq);
  }

  private sink(e: EmittedEvent): void {
    if (this.position++ < this.alreadyEmitted) return;
    this.fresh.push({
      id: e.id,
      seq: e.seq,
      type: e.type,
      causationId: e.causationId,
      jiffies: e.jiffies,
      payload: encodePayload(e.type, e.payload),
    });
  }

  cursor(): Cursor {
    return { seq: this.events.seq, violations: this.violations, armed: this.armed };
  }

  nextChildId(): string {
    return childId(this.frameId, this.children++);
  }

  call<F extends CallName>(ctx: ExecContext, to: Address, fn: F, args: CallArgs<F>): CallRet<F> {
    const id = this.nextChildId();
    const ev = this.events;
    ev.emit('call', id, this.frameId, ctx.jiffies, ev.callPayload(args, ctx, fn, this.address, to));
    const index = this.calls++;
    const reply = this.replies[index];
    if (reply) {
      restoreContext(ctx, reply.ctx);
      ev.seq = reply.cursor.seq;
      this.violations = reply.cursor.violations;
      this.armed = clone(reply.cursor.armed) as ArmedTimer[];
      return clone(reply.ret) as CallRet<F>;
    }
    this.pending = { id, index, to, fn, args: clone(args), ctx: snapshotContext(ctx) };
    throw Suspend.INSTANCE;
  }

  printk(ctx: ExecContext, level: LogLevel, text: string): void {
    this.events.printk(ctx, level, text);
  }

  trace(_ctx: ExecContext, what: string, detail: TraceDetail): void {
    this.events.trace(what, detail);
  }

  violation(ctx: ExecContext, v: ViolationRecord): void {
    const ev = this.events;
    ev.emit('violation', this.nextChildId(), this.frameId, ctx.jiffies, ev.violationPayload(v));
    this.violations++;
  }

  arm<F extends CallName>(
    _ctx: ExecContext,
    at: number,
    to: Address,
    fn: F,
    args: CallArgs<F>,
  ): void {
    const id = this.nextChildId();
    this.events.armed({ args, at, fn, id, to });
    this.armed.push({ at, to, fn, args: clone(args), armedBy: this.frameId, id });
  }
}

/** Runs (or re-runs) the handler of `input.invoke` as far as the replies recorded allow. */
export function execute(input: ExecuteInput): Execution {
  const { invoke } = input;
  const sys = new ReplayingSys(
    input.scenario,
    input.variant,
    invoke.id,
    invoke.to,
    invoke.cursor,
    input.replies,
    input.emitted,
  );
  const component = componentOf(invoke.to);
  const state = clone(input.snapshot);
  const states = (component === 'task' ? {} : { [component]: state }) as unknown as ComponentStates;
  const ctx = clone(invoke.ctx);
  let ret: unknown;
  try {
    ret = dispatch(states, invoke.to, invoke.fn as CallName, clone(invoke.args) as never, ctx, sys);
  } catch (err) {
    if (!(err instanceof Suspend)) throw err;
    const call = sys.pending;
    if (!call) throw new Error('suspended without a pending call', { cause: err });
    return {
      kind: 'suspended',
      events: sys.fresh,
      emitted: sys.position,
      call,
      cursor: sys.cursor(),
    };
  }
  const ev = sys.events;
  const to = invoke.replyTo.kind === 'orchestrator' ? 'orchestrator' : invoke.replyTo.address;
  ev.emit(
    'return',
    sys.nextChildId(),
    invoke.id,
    ctx.jiffies,
    ev.returnPayload(invoke.fn as CallName, invoke.to, ctx.globals, ret ?? null, to),
  );
  return {
    kind: 'returned',
    events: sys.fresh,
    emitted: sys.position,
    ret: clone(ret ?? null),
    ctx: snapshotContext(ctx),
    cursor: sys.cursor(),
    state: component === 'task' ? null : clone(state),
  };
}
