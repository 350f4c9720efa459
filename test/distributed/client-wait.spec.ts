/**
 * A waiting client learns a run's outcome from the auditor's announcement (the close publishes
 * the run id), not from its next poll: campaigns of many runs wait without polling Redis hard.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DistributedClient, RunStateRepository, type RunOutcome } from '@mnsim/bus';
import { type Env, startRunByHand, testEnv } from './harness.js';

describe('a waiting client', () => {
  let env: Env;
  beforeAll(async () => {
    env = await testEnv('clientwait');
  });
  afterAll(async () => {
    await env?.cleanup();
  });

  function outcome(runId: string): RunOutcome {
    return {
      runId,
      status: 'completed',
      events: 7,
      logHash: 'a'.repeat(64),
      violations: 1,
      failureReason: null,
    };
  }

  it('gets the outcome as soon as the auditor closes the run, long before its next poll', async () => {
    const runIds = ['announced-1', 'announced-2'];
    for (const id of runIds) await startRunByHand(env, id);
    const client = new DistributedClient(env.bus);
    // one poll at the start, the next a minute later: only the announcement can end these waits
    const waits = runIds.map((id) => client.wait(id, { pollMs: 60_000 }));
    await new Promise((r) => setTimeout(r, 300));
    const runs = new RunStateRepository(env.bus.redis, env.prefix);
    const t = Date.now();
    await runs.close(outcome('announced-2'));
    await expect(waits[1]).resolves.toEqual(outcome('announced-2'));
    await runs.close(outcome('announced-1'));
    await expect(waits[0]).resolves.toEqual(outcome('announced-1'));
    expect(Date.now() - t).toBeLessThan(5_000);
  });

  it('a run closed before the wait began is answered by the first read', async () => {
    await startRunByHand(env, 'closed-before');
    await new RunStateRepository(env.bus.redis, env.prefix).close(outcome('closed-before'));
    const client = new DistributedClient(env.bus);
    await expect(client.wait('closed-before', { pollMs: 60_000 })).resolves.toEqual(
      outcome('closed-before'),
    );
  });
});
