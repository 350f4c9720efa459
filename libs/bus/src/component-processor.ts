/**
 * A component worker's message handling (mm, oom, kvm:<arch>, task): validate, load the handler's
 * continuation, re-execute the kernel handler (libs/kernel's dispatch, through `execute`), persist
 * (with the events it emitted, staged for the auditor), then send the message it produced.
 * Framework-free so the Nest apps and the tests share it.
 *
 * The worker keeps in memory the records it wrote (suspended continuations, component states):
 * the reply to a call comes back to the queue that made it, so with one replica per queue the
 * next message of a handler finds its continuation here and Redis is not read. The save is a
 * compare-and-set on the versions the worker computed from: a copy that another worker (or
 * another delivery of the message) made stale is found out at the save, which writes nothing,
 * and the message is applied again from what Redis holds.
 */
import { LRUCache } from 'lru-cache';
import { type Address, componentOf, initialStates, variantOf } from '@mnsim/kernel';
import {
  COMPONENT_JOBS,
  JOB,
  ORCHESTRATOR_QUEUE,
  type InvokeMessage,
  MalformedMessageError,
  type OutboxJob,
  jobId,
  parseJob,
  queueOf,
  execute,
  type Execution,
} from '@mnsim/runtime';
import type { Bus, WorkerSettings } from './redis-bus.js';
import type { BusLogger } from './logger.js';
import {
  type ComponentRecord,
  type Continuation,
  type RunMeta,
  RunStateRepository,
  type SaveVersions,
  StaleStateError,
  type StoredReply,
  msgIndex,
} from './run-state.js';
import { ContextParts, type PartsWriter } from './context-parts.js';

/** Records of each kind a worker keeps in memory at most (the least recently used go first). */
const CACHED_RECORDS = 4096;

/** A save that found the records changed is retried from Redis this many times, then fails. */
const STALE_RETRIES = 3;

/** What a message of a handler is applied to: the records it read, and their versions. */
interface HandlerBase {
  /** from this worker's memory: it may be stale until its save succeeds */
  cached: boolean;
  /** the handler's continuation (null for its invoke) */
  cont: Continuation | null;
  /** the component's state when the handler started (null for the stateless task component) */
  snapshot: unknown;
  expected: SaveVersions;
}

/** The next message of a suspended handler is applied to its continuation. */
function continuationBase(cont: Continuation, cached: boolean): HandlerBase {
  return {
    cached,
    cont,
    snapshot: cont.snapshot ?? null,
    expected: { handler: cont.lastMsg, component: null },
  };
}

/**
 * A handler's invoke starts from its component's state (`applied`: the handler that produced
 * it, '' for the initial state); the stateless task component starts from nothing, and only the
 * handler's version is checked.
 */
function invokeBase(
  component: string,
  state: unknown,
  applied: string,
  cached: boolean,
): HandlerBase {
  if (component === 'task') {
    return { cached, cont: null, snapshot: null, expected: { handler: '', component: null } };
  }
  return {
    cached,
    cont: null,
    snapshot: state,
    expected: { handler: '', component: { name: component, applied } },
  };
}

/** Where a worker keeps a run's record in memory: by handler id, or by component. */
const memoryKey = (runId: string, part: string): string => `${runId}\n${part}`;

export class ComponentProcessor {
  private readonly runs: RunStateRepository;
  /** run id + handler id -> the suspended continuation this worker saved */
  private readonly suspended = new LRUCache<string, Continuation>({ max: CACHED_RECORDS });
  /** run id + component -> the component state this worker saved */
  private readonly states = new LRUCache<string, ComponentRecord>({ max: CACHED_RECORDS });
  /** the contexts the messages refer to (wire-context.ts) */
  private readonly parts: ContextParts;

  constructor(
    private readonly bus: Bus,
    /** the addresses this worker serves (one queue each) */
    readonly addresses: readonly Address[],
    private readonly log: BusLogger,
  ) {
    this.runs = new RunStateRepository(bus.redis, bus.opts.prefix);
    this.parts = new ContextParts(this.runs);
  }

  start(settings: Omit<WorkerSettings, 'log'>): void {
    for (const address of this.addresses) {
      this.bus.serve(queueOf(address), (name, data) => this.handle(address, name, data), {
        ...settings,
        log: this.log,
      });
    }
  }

  async handle(address: Address, name: string, data: unknown): Promise<void> {
    const job = parseJob(COMPONENT_JOBS, name, data);
    if (job.name === JOB.invoke) {
      const inv = job.data;
      if (inv.to !== address) {
        throw new MalformedMessageError(`to: ${inv.to} is not served on this queue (${address})`);
      }
      await this.apply(inv.runId, inv.id, 'i', null, inv);
    } else {
      const rep = job.data;
      const { ret, ctx, cursor } = rep;
      await this.apply(rep.runId, rep.handlerId, `r${rep.index}`, { ret, ctx, cursor }, null);
    }
  }

  private async apply(
    runId: string,
    handlerId: string,
    msgKey: string,
    reply: StoredReply | null,
    invoke: InvokeMessage | null,
  ): Promise<void> {
    const meta = await this.runs.meta(runId);
    if (!meta) {
      this.log('warn', 'message for a closed or unknown run dropped', { runId, handlerId, msgKey });
      return;
    }
    const cached = this.cachedBase(runId, handlerId, msgKey, invoke);
    if (cached) {
      try {
        return await this.advance(meta, runId, handlerId, msgKey, reply, invoke, cached);
      } catch (err) {
        if (!(err instanceof StaleStateError)) throw err;
        this.forget(runId, handlerId, invoke);
      }
    }
    // from Redis; a save that finds the records changed meanwhile lost a race with another
    // delivery of the message: read again, and the message is then found applied
    for (let attempt = 1; ; attempt++) {
      const base = await this.storedBase(meta, runId, handlerId, msgKey, invoke);
      if (!base) return;
      try {
        return await this.advance(meta, runId, handlerId, msgKey, reply, invoke, base);
      } catch (err) {
        if (!(err instanceof StaleStateError) || attempt >= STALE_RETRIES) throw err;
      }
    }
  }

  /** The base this worker has in memory for the message, if it has it. */
  private cachedBase(
    runId: string,
    handlerId: string,
    msgKey: string,
    invoke: InvokeMessage | null,
  ): HandlerBase | null {
    if (invoke) {
      const component = componentOf(invoke.to);
      if (component === 'task') return invokeBase(component, null, '', true);
      const record = this.states.get(memoryKey(runId, component));
      return record ? invokeBase(component, record.state, record.applied, true) : null;
    }
    const cont = this.suspended.get(memoryKey(runId, handlerId));
    if (!cont || msgIndex(msgKey) !== msgIndex(cont.lastMsg) + 1) return null;
    return continuationBase(cont, true);
  }

  private forget(runId: string, handlerId: string, invoke: InvokeMessage | null): void {
    this.suspended.delete(memoryKey(runId, handlerId));
    if (invoke) this.states.delete(memoryKey(runId, componentOf(invoke.to)));
  }

  /**
   * The base Redis holds for the message, or null once the message is dealt with: a redelivered
   * one has its outputs sent again, a stale duplicate or a reply for an unknown handler is
   * dropped.
   */
  private async storedBase(
    meta: RunMeta,
    runId: string,
    handlerId: string,
    msgKey: string,
    invoke: InvokeMessage | null,
  ): Promise<HandlerBase | null> {
    // an invoke starts its component from the component's last state: read both at once
    const invoked = invoke ? componentOf(invoke.to) : null;
    const wanted = invoked === 'task' ? null : invoked;
    const { continuation: cont, component: record } = await this.runs.handlerState(
      runId,
      handlerId,
      wanted,
    );
    if (cont) {
      if (cont.lastMsg === msgKey) {
        await this.bus.send(cont.outbox); // redelivered: the same outputs again, nothing else
        return null;
      }
      const expected = msgIndex(cont.lastMsg) + 1;
      if (cont.status !== 'suspended' || msgIndex(msgKey) !== expected) {
        this.log('info', 'stale duplicate ignored', { runId, handlerId, msgKey });
        return null;
      }
      return continuationBase(cont, false);
    }
    if (!invoke) {
      this.log('warn', 'reply for an unknown handler dropped', { runId, handlerId, msgKey });
      return null;
    }
    if (wanted === null) return invokeBase('task', null, '', false);
    if (record) return invokeBase(wanted, record.state, record.applied, false);
    return invokeBase(wanted, initialStates(meta.scenario.host.arch)[wanted], '', false);
  }

  /**
   * Applies the message to its base: re-executes the handler, saves what it became (if the
   * records are still those of the base), remembers it, then sends what it produced.
   */
  private async advance(
    meta: RunMeta,
    runId: string,
    handlerId: string,
    msgKey: string,
    reply: StoredReply | null,
    invoke: InvokeMessage | null,
    base: HandlerBase,
  ): Promise<void> {
    const { cont, snapshot } = base;
    const inv = invoke ?? (cont?.invoke as InvokeMessage);
    const replies = [...(cont?.replies ?? []), ...(reply ? [reply] : [])];
    const [invokeCtx, ...replyCtxs] = await this.parts.resolve(runId, [
      inv.ctx,
      ...replies.map((r) => r.ctx),
    ]);

    let out: Execution;
    try {
      out = execute({
        scenario: meta.scenario,
        variant: variantOf(meta.kernel),
        invoke: { ...inv, ctx: invokeCtx },
        snapshot,
        replies: replies.map((r, i) => ({ ...r, ctx: replyCtxs[i] })),
        emitted: cont?.emitted ?? 0,
      });
    } catch (err) {
      // from a stale copy of the state the model may well throw: only Redis's state says
      if (base.cached) throw new StaleStateError(runId, handlerId);
      // a model error: the run cannot go on; the orchestrator fails it with the reason
      const reason = `${inv.fn} on ${inv.to} threw: ${err instanceof Error ? err.message : String(err)}`;
      this.log('error', 'kernel handler failed', { runId, handlerId, reason });
      await this.bus.send([
        {
          queue: ORCHESTRATOR_QUEUE,
          name: JOB.fail,
          jobId: jobId(runId, 'fail', handlerId),
          data: { runId, reason },
        },
      ]);
      return;
    }

    const parts = this.parts.writer(runId);
    const outbox = this.outboxOf(runId, handlerId, inv, out, parts);
    const component = componentOf(inv.to);
    const next: Continuation =
      out.kind === 'suspended'
        ? {
            status: 'suspended',
            lastMsg: msgKey,
            outbox,
            invoke: inv,
            snapshot,
            replies,
            emitted: out.emitted,
          }
        : { status: 'returned', lastMsg: msgKey, outbox };
    const record: ComponentRecord | null =
      out.kind === 'returned' && component !== 'task'
        ? { state: out.state, applied: handlerId }
        : null;
    await this.runs.saveHandler(
      runId,
      handlerId,
      next,
      record ? { name: component, record } : null,
      out.events,
      base.expected,
      parts.entries(),
    );
    parts.saved();
    const key = memoryKey(runId, handlerId);
    if (next.status === 'suspended') this.suspended.set(key, next);
    else this.suspended.delete(key);
    if (record) this.states.set(memoryKey(runId, component), record);
    await this.bus.send(outbox);
  }

  /** What a handler's execution sends: its call, or its return to whoever invoked it. */
  private outboxOf(
    runId: string,
    handlerId: string,
    inv: InvokeMessage,
    out: Execution,
    parts: PartsWriter,
  ): OutboxJob[] {
    if (out.kind === 'suspended') {
      const c = out.call;
      return [
        {
          queue: queueOf(c.to),
          name: JOB.invoke,
          jobId: jobId(runId, 'invoke', c.id),
          data: {
            runId,
            id: c.id,
            to: c.to,
            fn: c.fn,
            args: c.args,
            ctx: parts.wire(c.ctx),
            cursor: out.cursor,
            replyTo: { kind: 'component', address: inv.to, handlerId, index: c.index },
          },
        },
      ];
    }
    if (inv.replyTo.kind === 'orchestrator') {
      return [
        {
          queue: ORCHESTRATOR_QUEUE,
          name: JOB.done,
          jobId: jobId(runId, 'done', handlerId),
          data: {
            runId,
            stimulusId: handlerId,
            ret: out.ret,
            ctx: parts.wire(out.ctx),
            cursor: out.cursor,
          },
        },
      ];
    }
    return [
      {
        queue: queueOf(inv.replyTo.address),
        name: JOB.reply,
        jobId: jobId(runId, 'reply', handlerId),
        data: {
          runId,
          handlerId: inv.replyTo.handlerId,
          index: inv.replyTo.index,
          ret: out.ret,
          ctx: parts.wire(out.ctx),
          cursor: out.cursor,
        },
      },
    ];
  }
}
