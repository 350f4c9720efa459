/**
 * A run whose state Redis lost (restarted without persistence, flushed), step by step on the
 * real Redis: a worker that still holds the run in memory does not write its state back nor send
 * what it would compute from initial states, and a waiting client fails the run at once with a
 * reason that says what happened (redis-restart.spec.ts does the same with real processes).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from 'bullmq';
import { resolveScenario } from '@mnsim/scenarios';
import {
  ComponentProcessor,
  DistributedClient,
  RunStateGoneError,
  RunStateRepository,
} from '@mnsim/bus';
import {
  AUDITOR_QUEUE,
  COMPONENT_QUEUES,
  JOB,
  ORCHESTRATOR_QUEUE,
  type InvokeMessage,
  type WireEvent,
  jobId,
  kvmQueue,
} from '@mnsim/runtime';
import { type Env, quietLog, startRunByHand, testEnv } from './harness.js';

describe('a run whose state Redis lost', () => {
  let env: Env;
  beforeAll(async () => {
    env = await testEnv('loststate');
  });
  afterAll(async () => {
    await env?.cleanup();
  });

  async function runKeys(runId: string): Promise<string[]> {
    return (await env.bus.redis.keys(`${env.prefix}:run:${runId}:*`)).sort();
  }

  /** Starts a run by hand (no workers): the orchestrator's start, then the first invoke's job. */
  async function started(runId: string): Promise<InvokeMessage> {
    await startRunByHand(env, runId);
    for (const q of [...Object.values(COMPONENT_QUEUES), kvmQueue('arm64')]) {
      const jobs = (await env.bus.queue(q).getJobs(['waiting', 'wait'], 0, 100)) as Job[];
      const inv = jobs.find((j) => j.name === JOB.invoke && j.data.runId === runId);
      if (inv) return inv.data as InvokeMessage;
    }
    throw new Error(`no invoke for ${runId}`);
  }

  it('a worker holding the run in memory neither writes its state back nor sends anything', async () => {
    const runId = 'lost-worker';
    const inv = await started(runId);
    const worker = new ComponentProcessor(env.bus, [inv.to], quietLog);
    await worker.handle(inv.to, JOB.invoke, inv); // the worker now knows the run (cached)
    const auditor = env.bus.queue(AUDITOR_QUEUE);
    const batches = await auditor.getJobCountByTypes('waiting', 'wait', 'delayed');

    // Redis loses everything of the run; a copy of the invoke arrives again
    const lost = await runKeys(runId);
    expect(lost).toContain(`${env.prefix}:run:${runId}:scenario`);
    await env.bus.redis.del(...lost);
    await expect(worker.handle(inv.to, JOB.invoke, inv)).rejects.toBeInstanceOf(RunStateGoneError);
    expect(await runKeys(runId)).toEqual([]);
    expect(await auditor.getJobCountByTypes('waiting', 'wait', 'delayed')).toBe(batches);

    // the orchestrator, the same: neither its record nor its events written into the emptied Redis
    const runs = new RunStateRepository(env.bus.redis, env.prefix);
    const event: WireEvent = {
      id: 's0',
      seq: 1,
      type: 'step',
      causationId: null,
      jiffies: 0,
      payload: '{}',
    };
    await expect(runs.saveOrchestrator(runId, {} as never, [event], null)).rejects.toBeInstanceOf(
      RunStateGoneError,
    );
    expect(await runKeys(runId)).toEqual([]);
  });

  it('a waiting client fails the run with a reason naming Redis, not after the stall timeout', async () => {
    const runId = 'lost-client';
    await started(runId);
    const client = new DistributedClient(env.bus);
    const waiting = client.wait(runId, { vanishedMs: 300 });
    await new Promise((r) => setTimeout(r, 200));
    // what a restart leaves: nothing of the run, neither its state nor its jobs
    await env.bus.redis.del(...(await runKeys(runId)));
    await env.bus.queue(ORCHESTRATOR_QUEUE).remove(jobId(runId, 'start', 'run'));
    const t = Date.now();
    await expect(waiting).rejects.toThrow(
      /state of run lost-client vanished from Redis at redis:\/\/.*restarted without persistence, or flushed/,
    );
    expect(Date.now() - t).toBeLessThan(10_000);
    client.close();
  });

  it('a run not yet picked up (its start job waits) is not taken for lost', async () => {
    const runId = 'lost-not-yet';
    const client = new DistributedClient(env.bus, { missingWorkerMs: 1500, checkMs: 200 });
    const { scenario } = resolveScenario('oom-reap-arm64');
    await client.submit(runId, scenario, { kernel: '5.8', seed: 1, timeoutMs: 1000 });
    // no orchestrator: the watch's reason, not the lost-state one
    await expect(client.wait(runId, { vanishedMs: 100 })).rejects.toThrow(
      /no orchestrator is alive/,
    );
    client.close();
  });
});
