/**
 * The chain timeout's watchdog on the real Redis: a running run's record carries its chain's
 * deadline; a sweep claims the chains past it (again only after the retry delay) and sends their
 * timeout; a run no longer live loses its deadline. The end-to-end failure (a worker missing) is
 * timeout.spec.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChainWatchdog } from '@mnsim/bus';
import { ORCHESTRATOR_QUEUE, jobId } from '@mnsim/runtime';
import { type Env, quietLog, startRunByHand, testEnv } from './harness.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('ChainWatchdog', () => {
  let env: Env;
  beforeAll(async () => {
    env = await testEnv('watchdog');
  });
  afterAll(async () => {
    await env?.cleanup();
  });

  const deadlines = (): Promise<string[]> =>
    env.bus.redis.zrange(`${env.prefix}:chain-deadlines`, 0, -1);

  it('claims a chain past its deadline once per retry delay and sends its timeout', async () => {
    const runId = 'wd-expired';
    await startRunByHand(env, runId, 300);
    const watchdog = new ChainWatchdog(env.bus, quietLog, { retryMs: 60_000 });
    expect(await deadlines()).toContain(runId);
    expect(await watchdog.sweep()).toBe(0); // not yet
    await sleep(450);
    expect(await watchdog.sweep()).toBe(1);
    const stimulusId = 'b0'; // the run's first stimulus, its boot step
    const job = await env.bus.queue(ORCHESTRATOR_QUEUE).getJob(jobId(runId, 'timeout', stimulusId));
    expect(job?.name).toBe('timeout');
    expect(job?.data).toEqual({ runId, stimulusId });
    // claimed: not again before the retry delay, though still there
    expect(await watchdog.sweep()).toBe(0);
    expect(await deadlines()).toContain(runId);
  });

  it('drops the deadline of a run that is no longer live, sending nothing', async () => {
    const runId = 'wd-gone';
    await startRunByHand(env, runId, 200);
    await env.bus.redis.del(`${env.prefix}:run:${runId}:scenario`);
    await sleep(300);
    const watchdog = new ChainWatchdog(env.bus, quietLog);
    const before = await env.bus.queue(ORCHESTRATOR_QUEUE).getJobCounts();
    await watchdog.sweep();
    expect(await deadlines()).not.toContain(runId);
    expect(await env.bus.queue(ORCHESTRATOR_QUEUE).getJob(jobId(runId, 'timeout', 'b0'))).toBe(
      undefined,
    );
    expect(await env.bus.queue(ORCHESTRATOR_QUEUE).getJobCounts()).toEqual(before);
  });

  it('sweeps on its own once started, and no more after stop()', async () => {
    const timeoutJob = (runId: string) =>
      env.bus.queue(ORCHESTRATOR_QUEUE).getJob(jobId(runId, 'timeout', 'b0'));
    const watchdog = new ChainWatchdog(env.bus, quietLog, { intervalMs: 20 });
    watchdog.start();
    await startRunByHand(env, 'wd-started', 150);
    await sleep(500);
    expect((await timeoutJob('wd-started'))?.data).toEqual({
      runId: 'wd-started',
      stimulusId: 'b0',
    });
    await watchdog.stop();
    await startRunByHand(env, 'wd-stopped', 150);
    await sleep(500);
    expect(await timeoutJob('wd-stopped')).toBe(undefined);
    expect(await deadlines()).toContain('wd-stopped');
  });
});
