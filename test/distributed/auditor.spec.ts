/**
 * The auditor's close of a run, on the real Redis and Postgres: the logHash vouches for exactly
 * the events the run emitted, and a run whose store holds more events than that is not reported
 * completed with a hash of them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogInterner, logHashOf } from '@mnsim/events';
import { AuditorProcessor, RunStateRepository } from '@mnsim/bus';
import { JOB, type WireEvent } from '@mnsim/runtime';
import { type Env, quietLog, testEnv } from './harness.js';

function wire(seq: number): WireEvent {
  return {
    id: seq === 0 ? 'run' : `s${seq}`,
    seq,
    type: seq === 0 ? 'run.start' : 'step',
    causationId: null,
    jiffies: seq,
    // a few shapes, each defined by the first event that has it
    payload: `{"k${seq % 3}":{"n":${seq}}}`,
  };
}

/** The run's log the logHash covers: its events in format 2. */
function logOf(events: readonly WireEvent[]): string[] {
  const interner = new LogInterner();
  const out: string[] = [];
  for (const e of events) interner.pushEncoded(e, e.payload, out);
  return out;
}

describe('the auditor closing a run', () => {
  let env: Env;
  let auditor: AuditorProcessor;
  beforeAll(async () => {
    env = await testEnv('auditor');
    auditor = new AuditorProcessor(env.bus, env.store, quietLog);
  });
  afterAll(async () => {
    await env?.cleanup();
  });

  const meta = { scenario: 's', kernel: '5.8', arch: 'arm64' };
  const returned = { status: 'returned' as const, lastMsg: 'i', outbox: [] };

  /** A run live on the cluster, as the orchestrator starts it: its row, and its meta in Redis. */
  async function live(runId: string): Promise<RunStateRepository> {
    await env.store.createRun({ runId, scenario: 's', kernel: '5.8', arch: 'arm64', seed: 1 });
    const runs = new RunStateRepository(env.bus.redis, env.prefix);
    await runs.putMeta(runId, { scenario: {} as never, kernel: '5.8', seed: 1 });
    return runs;
  }

  async function recorded(runId: string, stored: number, emitted: number) {
    const runs = await live(runId);
    const events = Array.from({ length: stored }, (_, seq) => wire(seq));
    // the events as a worker stages them, with a handler's record, while the run is live
    await runs.saveHandler(runId, 'h', returned, null, events);
    await auditor.handle(JOB.finish, {
      runId,
      meta,
      status: 'completed',
      events: emitted,
      violations: 0,
      failureReason: null,
    });
    return { run: await env.store.getRun(runId), events };
  }

  it('flushes the staged events to the store once, and deletes them from Redis', async () => {
    const runId = 'flush';
    const runs = await live(runId);
    const events = [wire(0), wire(1), wire(2)];
    // staged by two handlers, out of seq order
    await runs.saveHandler(runId, 'b', returned, null, events.slice(2));
    await runs.saveHandler(runId, 'a', returned, null, events.slice(0, 2));
    await auditor.handle(JOB.flush, { runId, meta });
    expect((await runs.stagedEvents(runId)).events).toEqual([]);
    await auditor.handle(JOB.flush, { runId, meta }); // redelivered: nothing to do
    const stored = [];
    for await (const e of env.store.iterateEvents(runId, 10)) stored.push(e.seq);
    expect(stored).toEqual([0, 1, 2]);
  });

  it('stores a run in seq order: events after a gap wait for it; any auditor goes on', async () => {
    const runId = 'gap';
    const runs = await live(runId);
    const events = Array.from({ length: 9 }, (_, seq) => wire(seq));
    const storedSeqs = async (): Promise<number[]> => {
      const seqs: number[] = [];
      for await (const e of env.store.iterateLog(runId, 4)) seqs.push(e.seq);
      return seqs;
    };
    await runs.saveHandler(runId, 'a', returned, null, events.slice(0, 3));
    await runs.saveHandler(runId, 'c', returned, null, events.slice(5, 7));
    await auditor.handle(JOB.flush, { runId, meta });
    expect(await storedSeqs()).toEqual([0, 1, 2]);
    expect((await runs.stagedEvents(runId)).events.map((e) => e.seq)).toEqual([5, 6]);
    // the gap's events come; another auditor (nothing in memory) takes the flush
    await runs.saveHandler(runId, 'b', returned, null, events.slice(3, 5));
    await runs.saveHandler(runId, 'd', returned, null, events.slice(7));
    const other = new AuditorProcessor(env.bus, env.store, quietLog);
    await other.handle(JOB.flush, { runId, meta });
    expect(await storedSeqs()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect((await runs.stagedEvents(runId)).events).toEqual([]);
    // the stored log is the one an interner writes for the whole run in one go
    const lines: string[] = [];
    for await (const e of env.store.iterateLog(runId, 4)) lines.push(...e.lines);
    expect(lines).toEqual(logOf(events));
  });

  it("keeps a failed run's events past a gap when it closes it", async () => {
    const runId = 'failed-gap';
    const runs = await live(runId);
    const events = [0, 1, 3, 4].map(wire);
    await runs.saveHandler(runId, 'a', returned, null, events);
    await auditor.handle(JOB.finish, {
      runId,
      meta,
      status: 'failed',
      events: 5,
      violations: 0,
      failureReason: 'a chain was lost',
    });
    const read = await env.store.readEvents(runId, { limit: 10 });
    expect(read.map((e) => [e.seq, e.payload])).toEqual(
      events.map((e) => [e.seq, JSON.parse(e.payload)]),
    );
    expect(await env.store.getRun(runId)).toMatchObject({ status: 'failed', events: 2 });
  });

  it('fails a run whose store holds two events of one id, with no hash', async () => {
    const runId = 'twice';
    const runs = await live(runId);
    const events = [wire(0), wire(1), { ...wire(2), id: 's1' }];
    await runs.saveHandler(runId, 'h', returned, null, events);
    await auditor.handle(JOB.finish, {
      runId,
      meta,
      status: 'completed',
      events: 3,
      violations: 0,
      failureReason: null,
    });
    expect(await env.store.getRun(runId)).toMatchObject({
      status: 'failed',
      logHash: null,
      failureReason: 'the store holds two events of run twice with the id s1 (again at seq 2)',
    });
  });

  it('completes a run with the hash of exactly its events', async () => {
    const { run, events } = await recorded('exact', 5, 5);
    expect(run).toMatchObject({ status: 'completed', events: 5 });
    expect(run?.logHash).toBe(logHashOf(logOf(events)));
  });

  it('fails a run whose store holds more events than it emitted, with no hash', async () => {
    const { run } = await recorded('extra', 6, 5);
    expect(run).toMatchObject({ status: 'failed', logHash: null });
    expect(run?.failureReason).toBe('the store holds 6 events of run extra, but the run emitted 5');
  });
});
