/**
 * A handler's state on the real Redis: its save is a compare-and-set on the versions it was
 * computed from, and a worker whose in-memory copy went stale (another replica applied the next
 * message, or the same message came again) writes nothing of its own: it applies the message
 * from what Redis holds, which re-sends the jobs already sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from 'bullmq';
import type { Address } from '@mnsim/kernel';
import {
  ComponentProcessor,
  type Continuation,
  OrchestratorProcessor,
  RunStateRepository,
  StaleStateError,
} from '@mnsim/bus';
import {
  COMPONENT_QUEUES,
  JOB,
  ORCHESTRATOR_QUEUE,
  type InvokeMessage,
  type OutboxJob,
  type ReplyMessage,
  kvmQueue,
} from '@mnsim/runtime';
import { type Env, quietLog, startRunByHand, testEnv } from './harness.js';

const QUEUES = [...Object.values(COMPONENT_QUEUES), kvmQueue('arm64')];

describe("a handler's state", () => {
  let env: Env;
  let runs: RunStateRepository;
  beforeAll(async () => {
    env = await testEnv('handlerstate');
    runs = new RunStateRepository(env.bus.redis, env.prefix);
  });
  afterAll(async () => {
    await env?.cleanup();
  });

  /** Everything Redis holds of the run, and every job waiting on the component queues. */
  async function snapshot(runId: string): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const key of (await env.bus.redis.keys(`${env.prefix}:run:${runId}:*`)).sort()) {
      const type = await env.bus.redis.type(key);
      out[key] = type === 'hash' ? await env.bus.redis.hgetall(key) : await env.bus.redis.get(key);
    }
    for (const q of QUEUES) {
      const jobs = (await env.bus.queue(q).getJobs(['waiting', 'wait'], 0, 1000)) as Job[];
      out[`jobs:${q}`] = jobs.map((j) => `${j.id} ${JSON.stringify(j.data)}`).sort();
    }
    return out;
  }

  /** The run's next message: one job of its chain waits at a time (flushes aside). */
  async function nextJob(runId: string): Promise<Job> {
    for (const q of [ORCHESTRATOR_QUEUE, ...QUEUES]) {
      const jobs = (await env.bus.queue(q).getJobs(['waiting', 'wait'], 0, 1000)) as Job[];
      const job = jobs.find((j) => j.data.runId === runId);
      if (job) return job;
    }
    throw new Error(`no job of ${runId} waits`);
  }

  const addressOf = (queue: string): Address =>
    (Object.entries(COMPONENT_QUEUES).find(([, q]) => q === queue)?.[0] as Address) ??
    `kvm:${queue.slice('kvm-'.length)}`;

  /**
   * A replica of every queue, the orchestrator's included: it takes a job off its queue and
   * applies it, as one worker of that queue would.
   */
  function replica(): {
    apply(job: Job): Promise<void>;
    of(address: Address): ComponentProcessor;
  } {
    const processors = new Map<string, ComponentProcessor>();
    const orchestrator = new OrchestratorProcessor(env.bus, quietLog);
    const of = (address: Address): ComponentProcessor => {
      let p = processors.get(address);
      if (!p) processors.set(address, (p = new ComponentProcessor(env.bus, [address], quietLog)));
      return p;
    };
    return {
      of,
      async apply(job) {
        await job.remove();
        if (job.queueName === ORCHESTRATOR_QUEUE) return orchestrator.handle(job.name, job.data);
        const to = (job.name === JOB.invoke ? job.data.to : addressOf(job.queueName)) as Address;
        return of(to).handle(to, job.name, job.data);
      },
    };
  }

  it('a save is written only over the versions it expects', async () => {
    const runId = 'cas';
    await runs.putMeta(runId, { scenario: {} as never, kernel: '5.8', seed: 1 });
    const hv = `${env.prefix}:run:${runId}:hv`;
    const h = `${env.prefix}:run:${runId}:h`;
    const cont = (lastMsg: string) => ({ status: 'returned' as const, lastMsg, outbox: [] });
    const record = (applied: string) => ({ name: 'mm', record: { state: { n: 1 }, applied } });

    await runs.saveHandler(runId, 'a', cont('i'), record('a'), []);
    expect(await env.bus.redis.hget(hv, 'a')).toBe('i');
    expect(await env.bus.redis.hget(`${env.prefix}:run:${runId}:cv`, 'mm')).toBe('a');

    // the handler already has a continuation: a save expecting none writes nothing
    await expect(runs.saveHandler(runId, 'a', cont('r0'), null, [])).rejects.toBeInstanceOf(
      StaleStateError,
    );
    expect(JSON.parse((await env.bus.redis.hget(h, 'a')) ?? '')).toEqual(cont('i'));
    await runs.saveHandler(runId, 'a', cont('r0'), null, [], { handler: 'i', component: null });
    expect(await env.bus.redis.hget(hv, 'a')).toBe('r0');

    // a handler that started from a component state older than the stored one
    const stale = { handler: '', component: { name: 'mm', applied: 'older' } };
    await expect(runs.saveHandler(runId, 'b', cont('i'), null, [], stale)).rejects.toBeInstanceOf(
      StaleStateError,
    );
    expect(await env.bus.redis.hget(h, 'b')).toBeNull();
    // '' expects the initial state: there is a stored one
    const initial = { handler: '', component: { name: 'mm', applied: '' } };
    await expect(runs.saveHandler(runId, 'b', cont('i'), null, [], initial)).rejects.toBeInstanceOf(
      StaleStateError,
    );
    await runs.saveHandler(runId, 'b', cont('i'), record('b'), [], {
      handler: '',
      component: { name: 'mm', applied: 'a' },
    });
    expect(await env.bus.redis.hget(`${env.prefix}:run:${runId}:cv`, 'mm')).toBe('b');
  });

  it("a suspended handler's save writes its base once and then only the reply it applied", async () => {
    const runId = 'parts';
    await runs.putMeta(runId, { scenario: {} as never, kernel: '5.8', seed: 1 });
    const key = (part: string): string => `${env.prefix}:run:${runId}:${part}`;
    const ctx = { jiffies: 1 } as never;
    const invoke = {
      runId,
      id: 's1',
      to: 'mm',
      fn: 'mprotect',
      args: { pid: 1000 },
      ctx,
      cursor: { seq: 0, violations: 0, armed: [] },
      replyTo: { kind: 'orchestrator' },
    } as InvokeMessage;
    const snapshotState = { tasks: [{ pid: 1000, vmas: 3 }] };
    const reply = (k: number) => ({ ret: k, ctx, cursor: { seq: k, violations: 0, armed: [] } });
    const outbox = (k: number): OutboxJob[] => [
      { queue: 'kvm-x86', name: 'invoke', jobId: `j${k}`, data: { ...invoke, id: `s1.${k}` } },
    ];
    const suspendedAt = (lastMsg: string, replies: number): Continuation => ({
      status: 'suspended',
      lastMsg,
      outbox: outbox(replies),
      invoke,
      snapshot: snapshotState,
      replies: Array.from({ length: replies }, (_, k) => reply(k)),
      emitted: replies + 1,
    });
    const read = async () => (await runs.handlerState(runId, 's1', null)).continuation;
    const head = async () => JSON.parse((await env.bus.redis.hget(key('h'), 's1')) ?? 'null');

    await runs.saveHandler(runId, 's1', suspendedAt('i', 0), null, []);
    expect(await read()).toEqual(suspendedAt('i', 0));
    expect(JSON.parse((await env.bus.redis.hget(key('hb'), 's1')) ?? 'null')).toEqual({
      invoke,
      snapshot: snapshotState,
    });
    await runs.saveHandler(runId, 's1', suspendedAt('r0', 1), null, [], {
      handler: 'i',
      component: null,
    });
    await runs.saveHandler(runId, 's1', suspendedAt('r1', 2), null, [], {
      handler: 'r0',
      component: null,
    });
    expect(await read()).toEqual(suspendedAt('r1', 2));
    // the head holds neither the invoke, nor the state, nor the replies
    expect(await head()).toEqual({
      status: 'suspended',
      lastMsg: 'r1',
      outbox: outbox(2),
      emitted: 3,
    });
    expect(await env.bus.redis.hgetall(key('hr'))).toEqual({
      's1|0': JSON.stringify(reply(0)),
      's1|1': JSON.stringify(reply(1)),
    });

    // another handler suspended beside it keeps its parts when s1 returns
    await runs.saveHandler(
      runId,
      's2',
      { ...suspendedAt('i', 0), invoke: { ...invoke, id: 's2' } },
      null,
      [],
    );
    const returned: Continuation = { status: 'returned', lastMsg: 'r2', outbox: outbox(9) };
    await runs.saveHandler(runId, 's1', returned, null, [], { handler: 'r1', component: null });
    expect(await read()).toEqual(returned);
    expect(await env.bus.redis.hkeys(key('hb'))).toEqual(['s2']);
    expect(await env.bus.redis.hkeys(key('hr'))).toEqual([]);

    // a suspended handler whose parts are not all there is not taken for a whole one
    await env.bus.redis.hdel(key('hb'), 's2');
    await expect(runs.handlerState(runId, 's2', null)).rejects.toThrow(
      'handler s2 is suspended, but its state is not whole',
    );
  });

  it('a message applied by another replica is not applied again from a stale copy', async () => {
    const runId = 'replicas';
    await startRunByHand(env, runId);
    const a = replica();
    let inv: InvokeMessage | null = null;
    for (let steps = 0; !inv && steps < 100; steps++) {
      const job = await nextJob(runId);
      await a.apply(job);
      const stored = await env.bus.redis.hget(`${env.prefix}:run:${runId}:h`, job.data.id ?? '');
      if (job.name === JOB.invoke && stored && JSON.parse(stored).status === 'suspended') {
        inv = job.data as InvokeMessage;
      }
    }
    if (!inv) throw new Error('no handler of the run suspended');
    const afterInvoke = await snapshot(runId);
    const b = new ComponentProcessor(env.bus, [inv.to], quietLog);

    // the invoke again, on the other replica (from Redis) and on the same (from its memory):
    // the call stored with the continuation is sent again, and nothing else changes
    const call = await nextJob(runId);
    expect(call.name).toBe(JOB.invoke);
    const stored = JSON.parse(
      (await env.bus.redis.hget(`${env.prefix}:run:${runId}:h`, inv.id)) ?? '{}',
    ) as Continuation;
    expect(stored.outbox.map((j) => j.jobId)).toEqual([call.id]);
    await call.remove();
    await b.handle(inv.to, JOB.invoke, inv);
    expect(await snapshot(runId)).toEqual(afterInvoke);
    await a.of(inv.to).handle(inv.to, JOB.invoke, inv);
    expect(await snapshot(runId)).toEqual(afterInvoke);

    // the call runs until its reply comes back; replica b applies the reply, then a gets it
    // again: a's copy (the handler suspended at its invoke) expects exactly this reply, but b
    // made it stale
    let reply: Job | null = null;
    for (let steps = 0; !reply && steps < 100; steps++) {
      const job = await nextJob(runId);
      if (job.name === JOB.reply && job.data.handlerId === inv.id) {
        reply = job;
        break;
      }
      await a.apply(job);
    }
    if (!reply) throw new Error(`no reply to ${inv.id}`);
    await reply.remove();
    await b.handle(inv.to, JOB.reply, reply.data as ReplyMessage);
    // the auditor flushes the staged events: a save by a would stage the reply's events again
    await env.bus.redis.del(`${env.prefix}:run:${runId}:ev`);
    const afterReply = await snapshot(runId);
    expect(afterReply).not.toEqual(afterInvoke);
    await a.of(inv.to).handle(inv.to, JOB.reply, reply.data as ReplyMessage);
    expect(await snapshot(runId)).toEqual(afterReply);
  });
  it('an orchestrator killed between the save of its step and the send: the message again sends it', async () => {
    const runId = 'orchestrator-died';
    await startRunByHand(env, runId);
    const a = replica();
    let done: Job | null = null;
    for (let steps = 0; !done && steps < 100; steps++) {
      const job = await nextJob(runId);
      if (job.queueName === ORCHESTRATOR_QUEUE && job.name === JOB.done) done = job;
      else await a.apply(job);
    }
    if (!done) throw new Error(`no chain of ${runId} came back`);
    const { stimulusId } = done.data as { stimulusId: string };
    await a.apply(done);
    const sent = await nextJob(runId);
    expect(sent.name).toBe(JOB.invoke);
    // the record knows the message it last handled: a redelivery of it is told by that
    expect((await runs.orchestrator(runId))?.lastMsg).toBe(`d-${stimulusId}`);
    const afterDone = await snapshot(runId);

    // the process died once the record was saved, before its job was sent; the stalled `done`
    // comes again to another replica, which sends that job, and changes nothing else
    await sent.remove();
    await new OrchestratorProcessor(env.bus, quietLog).handle(JOB.done, done.data);
    const again = await nextJob(runId);
    expect({ id: again.id, name: again.name, data: again.data }).toEqual({
      id: sent.id,
      name: sent.name,
      data: sent.data,
    });
    expect(await snapshot(runId)).toEqual(afterDone);
  });

  it("an orchestrator's save is written only over the record it was computed from", async () => {
    const runId = 'orchestrator-cas';
    await runs.putMeta(runId, { scenario: {} as never, kernel: '5.8', seed: 1 });
    const rec = (lastMsg: string) => ({ lastMsg, outbox: [] }) as never;
    await runs.saveOrchestrator(runId, rec('start'), [], null);
    await expect(runs.saveOrchestrator(runId, rec('start'), [], null)).rejects.toBeInstanceOf(
      StaleStateError,
    );
    await runs.saveOrchestrator(runId, rec('d-s0'), [], 'start');
    await expect(runs.saveOrchestrator(runId, rec('f'), [], 'start')).rejects.toBeInstanceOf(
      StaleStateError,
    );
    expect((await runs.orchestrator(runId))?.lastMsg).toBe('d-s0');
  });
});
