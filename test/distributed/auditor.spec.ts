/**
 * The auditor's close of a run, on the real Redis and Postgres: the logHash vouches for exactly
 * the events the run emitted, and a run whose store holds more events than that is not reported
 * completed with a hash of them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logHashOf } from '@mnsim/events';
import { AuditorProcessor, JOB, type WireEvent } from '@mnsim/bus';
import { type Env, quietLog, testEnv } from './harness.js';

function wire(seq: number): WireEvent {
  return {
    id: seq === 0 ? 'run' : `s${seq}`,
    seq,
    type: seq === 0 ? 'run.start' : 'step',
    causationId: null,
    jiffies: seq,
    payload: `{"n":${seq}}`,
  };
}

function line(e: WireEvent): string {
  const cause = e.causationId === null ? 'null' : JSON.stringify(e.causationId);
  return `{"causationId":${cause},"id":"${e.id}","jiffies":${e.jiffies},"payload":${e.payload},"seq":${e.seq},"type":"${e.type}"}`;
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

  async function recorded(runId: string, stored: number, emitted: number) {
    await env.store.createRun({ runId, scenario: 's', kernel: '5.8', arch: 'arm64', seed: 1 });
    const events = Array.from({ length: stored }, (_, seq) => wire(seq));
    const meta = { scenario: 's', kernel: '5.8', arch: 'arm64' };
    await auditor.handle(JOB.events, { runId, meta, events });
    await auditor.handle(JOB.finish, {
      runId,
      status: 'completed',
      events: emitted,
      violations: 0,
      failureReason: null,
    });
    return { run: await env.store.getRun(runId), events };
  }

  it('completes a run with the hash of exactly its events', async () => {
    const { run, events } = await recorded('exact', 5, 5);
    expect(run).toMatchObject({ status: 'completed', events: 5 });
    expect(run?.logHash).toBe(logHashOf(events.map(line)));
  });

  it('fails a run whose store holds more events than it emitted, with no hash', async () => {
    const { run } = await recorded('extra', 6, 5);
    expect(run).toMatchObject({ status: 'failed', logHash: null });
    expect(run?.failureReason).toBe('the store holds 6 events of run extra, but the run emitted 5');
  });
});
