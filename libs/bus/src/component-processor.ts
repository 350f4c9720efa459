/**
 * A component worker's message handling (mm, oom, kvm:<arch>, task): validate, load the handler's
 * continuation, re-execute the kernel handler (libs/kernel's dispatch, through `execute`), persist
 * (with the events it emitted, staged for the auditor), then send the message it produced.
 * Framework-free so the Nest apps and the tests share it.
 */
import { type Address, componentOf, initialStates, variantOf } from '@mnsim/kernel';
import {
  COMPONENT_JOBS,
  JOB,
  ORCHESTRATOR_QUEUE,
  type InvokeMessage,
  MalformedMessageError,
  type OutboxJob,
  type ReplyMessage,
  jobId,
  parseMessage,
  queueOf,
} from './messages.js';
import type { Bus, WorkerSettings } from './redis-bus.js';
import type { BusLogger } from './logger.js';
import { type Continuation, RunStateRepository } from './run-state.js';
import { execute, type Execution, type RecordedReply } from './replay.js';

function msgIndex(key: string): number {
  return key === 'i' ? -1 : Number(key.slice(1));
}

export class ComponentProcessor {
  private readonly runs: RunStateRepository;

  constructor(
    private readonly bus: Bus,
    /** the addresses this worker serves (one queue each) */
    readonly addresses: readonly Address[],
    private readonly log: BusLogger,
  ) {
    this.runs = new RunStateRepository(bus.redis, bus.opts.prefix);
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
    const msg = parseMessage(COMPONENT_JOBS, name, data);
    if (name === JOB.invoke) {
      const inv = msg as InvokeMessage;
      if (inv.to !== address) {
        throw new MalformedMessageError(`to: ${inv.to} is not served on this queue (${address})`);
      }
      await this.apply(inv.runId, inv.id, 'i', null, inv);
    } else {
      const rep = msg as ReplyMessage;
      const { ret, ctx, cursor } = rep;
      await this.apply(rep.runId, rep.handlerId, `r${rep.index}`, { ret, ctx, cursor }, null);
    }
  }

  private async apply(
    runId: string,
    handlerId: string,
    msgKey: string,
    reply: RecordedReply | null,
    invoke: InvokeMessage | null,
  ): Promise<void> {
    const meta = await this.runs.meta(runId);
    if (!meta) {
      this.log('warn', 'message for a closed or unknown run dropped', { runId, handlerId, msgKey });
      return;
    }
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
        return;
      }
      const expected = msgIndex(cont.lastMsg) + 1;
      if (cont.status !== 'suspended' || msgIndex(msgKey) !== expected) {
        this.log('info', 'stale duplicate ignored', { runId, handlerId, msgKey });
        return;
      }
    } else if (!invoke) {
      this.log('warn', 'reply for an unknown handler dropped', { runId, handlerId, msgKey });
      return;
    }

    const inv = invoke ?? (cont?.invoke as InvokeMessage);
    const component = componentOf(inv.to);
    let snapshot: unknown = null;
    if (cont) snapshot = cont.snapshot ?? null;
    else if (component !== 'task') {
      snapshot = record ? record.state : initialStates(meta.scenario.host.arch)[component];
    }
    const replies = [...(cont?.replies ?? []), ...(reply ? [reply] : [])];

    let out: Execution;
    try {
      out = execute({
        scenario: meta.scenario,
        variant: variantOf(meta.kernel),
        invoke: inv,
        snapshot,
        replies,
        emitted: cont?.emitted ?? 0,
      });
    } catch (err) {
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

    const outbox: OutboxJob[] = [];
    let next: Continuation;
    if (out.kind === 'suspended') {
      const c = out.call;
      outbox.push({
        queue: queueOf(c.to),
        name: JOB.invoke,
        jobId: jobId(runId, 'invoke', c.id),
        data: {
          runId,
          id: c.id,
          to: c.to,
          fn: c.fn,
          args: c.args,
          ctx: c.ctx,
          cursor: out.cursor,
          replyTo: { kind: 'component', address: inv.to, handlerId, index: c.index },
        },
      });
      next = {
        status: 'suspended',
        lastMsg: msgKey,
        outbox,
        invoke: inv,
        snapshot,
        replies,
        emitted: out.emitted,
      };
    } else {
      if (inv.replyTo.kind === 'orchestrator') {
        outbox.push({
          queue: ORCHESTRATOR_QUEUE,
          name: JOB.done,
          jobId: jobId(runId, 'done', handlerId),
          data: { runId, stimulusId: handlerId, ret: out.ret, ctx: out.ctx, cursor: out.cursor },
        });
      } else {
        outbox.push({
          queue: queueOf(inv.replyTo.address),
          name: JOB.reply,
          jobId: jobId(runId, 'reply', handlerId),
          data: {
            runId,
            handlerId: inv.replyTo.handlerId,
            index: inv.replyTo.index,
            ret: out.ret,
            ctx: out.ctx,
            cursor: out.cursor,
          },
        });
      }
      next = { status: 'returned', lastMsg: msgKey, outbox };
    }
    await this.runs.saveHandler(
      runId,
      handlerId,
      next,
      out.kind === 'returned' && component !== 'task'
        ? { name: component, record: { state: out.state, applied: handlerId } }
        : null,
      out.events,
    );
    await this.bus.send(outbox);
  }
}
