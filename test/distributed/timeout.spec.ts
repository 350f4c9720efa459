/**
 * Invariant 4: a run whose chain cannot complete (its worker is missing) ends failed with the
 * reason, which names the queue that no worker serves.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { resolveScenario } from '@mnsim/scenarios';
import { runDistributedWith } from '@mnsim/bus';
import { Bus, ComponentProcessor, RunStateRepository } from '@mnsim/bus';
import { COMPONENT_QUEUES, kvmQueue } from '@mnsim/runtime';
import { type Env, REDIS_URL, inProcessCluster, quietLog, testEnv } from './harness.js';

/** long enough for the test to take kvm-x86's worker away before the chain times out */
const CHAIN_TIMEOUT_MS = 5000;

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
  expect(run.failureReason).toBe(
    'the chain of b1 (kvm_create_vm on kvm:x86) did not complete within 1500 ms: no kvm worker with KVM_ARCH=x86 is alive, nothing serves queue "kvm-x86"',
  );
  const row = await env.store.getRun(run.runId);
  expect(row?.status).toBe('failed');
  expect(row?.failureReason).toBe(run.failureReason);
  expect(row?.logHash).toBeNull();
});

it('a kvm worker gone mid-run, the chain stuck past its first component: the reason names the queue really missing', async () => {
  const x86 = new Bus({ redisUrl: REDIS_URL, prefix: env.prefix });
  new ComponentProcessor(x86, ['kvm:x86'], quietLog).start({
    concurrency: 4,
    lockDurationMs: 5000,
    stalledIntervalMs: 2000,
  });
  // the boot and the fault-in need no task; the allocation (s1) waits at the task queue
  const task = env.bus.queue(COMPONENT_QUEUES.task);
  await task.pause();
  try {
    const { scenario, source } = resolveScenario('oom-reap-x86');
    const runId = 'timeout-deeper';
    const running = runDistributedWith(env.store, env.client, scenario, source, {
      runId,
      timeoutMs: CHAIN_TIMEOUT_MS,
    });
    const runs = new RunStateRepository(env.bus.redis, env.prefix);
    for (let i = 0; i < 400; i++) {
      if ((await runs.orchestrator(runId))?.current?.id === 's1') break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect((await runs.orchestrator(runId))?.current?.stimulus.to).toBe('task');
    // kvm-x86's worker goes; the allocation goes on, the OOM reaper's chain gets stuck at KVM
    await x86.close();
    expect(await env.bus.queue(kvmQueue('x86')).getWorkersCount()).toBe(0);
    await task.resume();
    const run = await running;
    expect(run.status).toBe('failed');
    expect(run.failureReason).toMatch(
      new RegExp(
        `^the chain of [\\w.-]+ \\(\\w+ on (task|oom|mm)\\) did not complete within ${CHAIN_TIMEOUT_MS} ms: no kvm worker with KVM_ARCH=x86 is alive, nothing serves queue "kvm-x86"$`,
      ),
    );
  } finally {
    await task.resume();
    await x86.close();
  }
}, 60_000);
