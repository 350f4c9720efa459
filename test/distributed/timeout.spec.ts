/** Invariant 4: a run whose chain cannot complete (its worker is missing) ends failed with the reason. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { resolveScenario } from '@mnsim/scenarios';
import { runDistributedWith } from '../../apps/cli/src/run-distributed.js';
import { type Env, inProcessCluster, testEnv } from './harness.js';

let env: Env;
let stop: () => Promise<void>;
beforeAll(async () => {
  env = await testEnv('timeout');
  stop = await inProcessCluster(
    env,
    { concurrency: 4, lockDurationMs: 5000, stalledIntervalMs: 2000 },
    ['kvm:x86'],
  );
});
afterAll(async () => {
  await stop?.();
  await env?.cleanup();
});

it('no kvm-x86 worker: the x86 run fails after the chain timeout, naming the queue', async () => {
  const { scenario, source } = resolveScenario('oom-reap-x86');
  const t = Date.now();
  const run = await runDistributedWith(env.store, env.client, scenario, source, {
    timeoutMs: 1500,
  });
  expect(Date.now() - t).toBeLessThan(15_000);
  expect(run.status).toBe('failed');
  expect(run.failureReason).toMatch(/did not complete within 1500 ms.*kvm-x86 worker/);
  const row = await env.store.getRun(run.runId);
  expect(row?.status).toBe('failed');
  expect(row?.failureReason).toBe(run.failureReason);
  expect(row?.logHash).toBeNull();
});
