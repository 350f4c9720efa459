/**
 * No client waits forever (a waiting client's ClusterWatch): it gives up, with one line naming
 * what is missing, when a queue its runs need has no worker for the grace, or when nothing moves
 * for the run timeout though every queue is served; and the runs it gives up on end `failed`
 * with that reason once the cluster can take them again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveScenario } from '@mnsim/scenarios';
import { Bus, ClusterStalledError, ComponentProcessor, DistributedClient } from '@mnsim/bus';
import { COMPONENT_QUEUES, ORCHESTRATOR_QUEUE, jobId, kvmQueue } from '@mnsim/runtime';
import { runDistributedWith } from '@mnsim/bus';
import {
  type Env,
  REDIS_URL,
  dropPrefix,
  inProcessCluster,
  quietLog,
  startRunByHand,
  testEnv,
} from './harness.js';

const SETTINGS = { concurrency: 4, lockDurationMs: 5000, stalledIntervalMs: 2000 };
/** long enough that no chain times out in these tests: the client's watch must notice first */
const CHAIN_TIMEOUT_MS = 120_000;

describe("a waiting client's watch over the cluster", () => {
  let env: Env;
  let stop: (() => Promise<void>) | null = null;
  beforeAll(async () => {
    env = await testEnv('watch');
    // every worker but kvm-x86's
    stop = await inProcessCluster(env, SETTINGS, ['kvm:x86']);
  });
  afterAll(async () => {
    await stop?.();
    await env?.cleanup();
  });

  it('a queue the run needs has no worker: gives up after the grace, naming it; the orchestrator fails the run with that reason rather than finish it once the worker is back', async () => {
    const client = new DistributedClient(env.bus, { missingWorkerMs: 1500, checkMs: 200 });
    const { scenario, source } = resolveScenario('oom-reap-x86');
    const runId = 'watch-no-x86';
    const t = Date.now();
    const err = await runDistributedWith(env.store, client, scenario, source, {
      runId,
      timeoutMs: CHAIN_TIMEOUT_MS,
    }).then(
      () => null,
      (e: unknown) => e,
    );
    client.close();
    expect(err).toBeInstanceOf(ClusterStalledError);
    const reason = (err as Error).message;
    expect(reason).toMatch(
      /^the cluster cannot finish 1 run in flight: no kvm worker with KVM_ARCH=x86 is alive: nothing has served queue "kvm-x86" \(prefix mnsimt-watch_[0-9a-f]+\) for \d+\.\d s; start the cluster/,
    );
    expect(reason).not.toContain('\n');
    expect(Date.now() - t).toBeLessThan(10_000);
    // the store says so at once
    expect(await env.store.getRun(runId)).toMatchObject({
      status: 'failed',
      failureReason: reason,
    });

    // the worker comes back: the run it would now finish ends failed, with the client's reason,
    // in Redis and in the store (the auditor's close), instead of completing behind its back
    const x86 = new Bus({ redisUrl: REDIS_URL, prefix: env.prefix });
    new ComponentProcessor(x86, ['kvm:x86'], quietLog).start(SETTINGS);
    try {
      const again = new DistributedClient(env.bus);
      const outcome = await again.wait(runId, { arch: 'x86' });
      again.close();
      expect(outcome).toMatchObject({ status: 'failed', failureReason: reason, logHash: null });
      expect(await env.store.getRun(runId)).toMatchObject({
        status: 'failed',
        failureReason: reason,
        logHash: null,
      });
    } finally {
      await x86.close();
    }
  }, 60_000);

  it('every queue served, nothing moves: gives up after the run timeout, saying so', async () => {
    const client = new DistributedClient(env.bus, { runTimeoutMs: 2000, checkMs: 200 });
    const mm = env.bus.queue(COMPONENT_QUEUES.mm);
    // its workers stay connected, they take nothing: the run stops at its first mm call
    await mm.pause();
    try {
      const { scenario, source } = resolveScenario('oom-reap-arm64');
      const t = Date.now();
      const err = await runDistributedWith(env.store, client, scenario, source, {
        timeoutMs: CHAIN_TIMEOUT_MS,
      }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ClusterStalledError);
      expect((err as Error).message).toMatch(
        /^the cluster cannot finish 1 run in flight: none of them moved for \d+\.\d s \(MNSIM_RUN_TIMEOUT\), though every queue they need has a worker$/,
      );
      expect(Date.now() - t).toBeLessThan(10_000);
    } finally {
      client.close();
      await mm.resume();
    }
  }, 30_000);

  it('a run given up before an orchestrator took it never starts: its start job is removed', async () => {
    const prefix = `${env.prefix}x`; // no orchestrator serves this prefix
    const lonely = new Bus({ redisUrl: REDIS_URL, prefix });
    const client = new DistributedClient(lonely);
    try {
      const { scenario } = resolveScenario('oom-reap-arm64');
      await client.submit('watch-never', scenario, { kernel: '5.8', seed: 1 });
      const start = jobId('watch-never', 'start', 'run');
      expect(await lonely.queue(ORCHESTRATOR_QUEUE).getJob(start)).toBeDefined();
      await client.abandon('watch-never', 'the cluster went away');
      expect(await lonely.queue(ORCHESTRATOR_QUEUE).getJob(start)).toBeUndefined();
    } finally {
      client.close();
      await lonely.close();
      await dropPrefix(prefix);
    }
  });

  it('a run given up after an orchestrator took it is failed by the orchestrator with the reason', async () => {
    // the components take nothing: the run stays where its start left it
    const components = [...Object.values(COMPONENT_QUEUES), kvmQueue('arm64')].map((q) =>
      env.bus.queue(q),
    );
    await Promise.all(components.map((q) => q.pause()));
    try {
      // the run's row, as a client creates it before it submits (the auditor closes it)
      await env.store.createRun({
        runId: 'watch-taken',
        scenario: 'oom-reap-arm64',
        kernel: '5.8',
        arch: 'arm64',
        seed: 1,
        source: null,
      });
      await startRunByHand(env, 'watch-taken', CHAIN_TIMEOUT_MS);
      const client = new DistributedClient(env.bus);
      await client.abandon('watch-taken', 'the cluster went away');
      const outcome = await client.wait('watch-taken');
      client.close();
      expect(outcome).toMatchObject({ status: 'failed', failureReason: 'the cluster went away' });
      expect(await env.store.getRun('watch-taken')).toMatchObject({
        status: 'failed',
        failureReason: 'the cluster went away',
      });
    } finally {
      await Promise.all(components.map((q) => q.resume()));
    }
  }, 30_000);
});
