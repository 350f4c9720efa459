/**
 * Re-execution of one component handler, Temporal-style. A worker that gets a message for a
 * handler (its invoke, or the reply to a call it made) runs the handler again from the component
 * state taken when the handler started, on the chain's one Sys (chain.ts) with calls answered
 * from the replies recorded so far; the first call without a reply is sent and the run of the
 * handler stops there (Suspend). Handlers are deterministic, so every re-execution retraces the same path: the events
 * it already emitted are recognised by their position and not emitted again.
 */
import {
  type Address,
  type CallName,
  type ComponentStates,
  type ExecContext,
  type Scenario,
  type Variant,
  componentOf,
  snapshotContext,
} from '@mnsim/kernel';
import { EventBuilder, type EmittedEvent, toWireEvent } from './event-builder.js';
import { type CallResolver, ChainSys, jsonClone } from './chain.js';
import type { Cursor, InvokeMessage, WireEvent } from './messages.js';

/** Thrown through the handler at the first call that has no reply yet; never escapes `execute`. */
class Suspend extends Error {
  static readonly INSTANCE = new Suspend('suspended at a call without a reply');
}

/** A reply as the handler is answered with it: its context whole (the wire refers to it). */
export interface RecordedReply {
  ret: unknown;
  ctx: ExecContext;
  cursor: Cursor;
}

/** The invoke a handler runs from, its context whole (the wire refers to it: wire-context.ts). */
export type HandlerInvoke = Omit<InvokeMessage, 'ctx'> & { ctx: ExecContext };

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
  invoke: HandlerInvoke;
  /** the component's state when the handler started (JSON; not mutated) */
  snapshot: unknown;
  replies: readonly RecordedReply[];
  /** how many events earlier executions of this handler already emitted */
  emitted: number;
}

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

/**
 * Answers the handler's n-th call from the n-th recorded reply (its return value, the context and
 * cursor the callee handed back); at the first call without one, records it and suspends.
 */
function fromRecordedReplies(
  replies: readonly RecordedReply[],
  suspendAt: (call: PendingCall) => void,
): CallResolver {
  let calls = 0;
  return (sys, ctx, id, _from, to, fn, args) => {
    const index = calls++;
    const reply = replies[index];
    if (!reply) {
      suspendAt({ id, index, to, fn, args: jsonClone(args), ctx: snapshotContext(ctx) });
      throw Suspend.INSTANCE;
    }
    restoreContext(ctx, reply.ctx);
    sys.resume(reply.cursor);
    return jsonClone(reply.ret) as never;
  };
}

/** Runs (or re-runs) the handler of `input.invoke` as far as the replies recorded allow. */
export function execute(input: ExecuteInput): Execution {
  const { invoke } = input;
  const fresh: WireEvent[] = [];
  // events emitted by this execution, fresh or already sent by an earlier one
  let position = 0;
  const sink = (e: EmittedEvent): void => {
    if (position++ < input.emitted) return;
    fresh.push(toWireEvent(e));
  };
  let pending: PendingCall | null = null;
  const sys = new ChainSys(
    input.scenario,
    input.variant,
    new EventBuilder(sink),
    fromRecordedReplies(input.replies, (call) => (pending = call)),
  );
  sys.resume(invoke.cursor);
  const component = componentOf(invoke.to);
  const state = jsonClone(input.snapshot);
  const states = (component === 'task' ? {} : { [component]: state }) as unknown as ComponentStates;
  const ctx = jsonClone(invoke.ctx);
  const returnTo = invoke.replyTo.kind === 'orchestrator' ? 'orchestrator' : invoke.replyTo.address;
  let ret: unknown;
  try {
    ret = sys.runHandler(
      states,
      invoke.id,
      invoke.to,
      invoke.fn as CallName,
      jsonClone(invoke.args) as never,
      ctx,
      returnTo,
    );
  } catch (err) {
    if (!(err instanceof Suspend)) throw err;
    const call = pending as PendingCall | null;
    if (!call) throw new Error('suspended without a pending call', { cause: err });
    return { kind: 'suspended', events: fresh, emitted: position, call, cursor: sys.cursor() };
  }
  return {
    kind: 'returned',
    events: fresh,
    emitted: position,
    ret: jsonClone(ret ?? null),
    ctx: snapshotContext(ctx),
    cursor: sys.cursor(),
    state: component === 'task' ? null : jsonClone(state),
  };
}
