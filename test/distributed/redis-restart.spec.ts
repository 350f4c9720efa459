/**
 * Invariant 4 when Redis itself goes away: a Redis of the test's own (nothing on disk) is killed
 * and started again, empty, in the middle of a campaign on real worker processes. Every run in
 * flight resolves within a bound: completed with its embedded twin's logHash, or failed with a
 * reason that says what happened; none hangs, none completes with a wrong hash. The workers
 * reconnect: a run submitted after the restart completes with the embedded logHash.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulate } from '@mnsim/engine';
import { resolveScenario } from '@mnsim/scenarios';
import { campaign, expectEmbedded, label, runCase, startCampaign } from './campaign.js';
import { type Env, testEnv } from './harness.js';
import { PrivateRedis } from './private-redis.js';
import { type Worker, buildDist, clusterEnv, startCluster, stopCluster } from './processes.js';

/** the chain timeout of each run; the client gives up on a run that stalls for 2× this + 5 s */
const CHAIN_TIMEOUT_MS = 10_000;
/** every run must have resolved this long after Redis is back */
const RESOLVE_BOUND_MS = 45_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('Redis restarted (empty) in the middle of a campaign', () => {
  let redis: PrivateRedis | null = null;
  let env: Env;
  let workers: Worker[] = [];
  beforeAll(async () => {
    if (!process.env.MNSIM_TEST_SKIP_BUILD) buildDist();
    redis = await PrivateRedis.start();
    env = await testEnv('rrestart', redis.url);
    workers = await startCluster(clusterEnv(env.prefix, env.schema, redis.url), 1);
  }, 120_000);
  afterAll(async () => {
    await stopCluster(workers);
    await env?.cleanup();
    await redis?.kill();
  });

  it('runs in flight complete correctly or fail with the reason; none hangs; new runs complete', async () => {
    const cases = campaign(2);
    const running = startCampaign(env, cases, CHAIN_TIMEOUT_MS);
    const done = running.done;
    // kill Redis once the campaign is well under way: some runs closed, most still in flight
    for (let i = 0; i < 600 && done() < 5; i++) await sleep(50);
    const inFlightAtKill = cases.length - done();
    expect(inFlightAtKill).toBeGreaterThan(0);
    await redis!.kill();
    await sleep(500);
    await redis!.start();

    const results = await running.settledWithin(RESOLVE_BOUND_MS);

    const completed = results.filter((r) => r.run.status === 'completed');
    const failed = results.filter((r) => r.run.status === 'failed');
    expect(completed.length + failed.length).toBe(cases.length);
    // a completed run is a correct run: the embedded logHash, events and violations
    await expectEmbedded(env, completed);
    // a failed run says what happened, and the store says the same
    for (const r of failed) {
      expect(r.run.failureReason, label(r)).toMatch(/Redis/);
      expect(r.run.logHash, label(r)).toBeNull();
      const row = await env.store.getRun(r.run.runId);
      expect(row?.status, label(r)).toBe('failed');
      expect(row?.failureReason, label(r)).toBe(r.run.failureReason);
      expect(row?.logHash, label(r)).toBeNull();
    }
    console.log(
      `redis restart: ${inFlightAtKill} of ${cases.length} runs in flight at the kill; ` +
        `${completed.length} completed, ${failed.length} failed (${failed[0]?.run.failureReason ?? '-'})`,
    );

    // the workers survived the restart and serve again: a new run completes correctly
    for (const w of workers) expect(w.child?.exitCode ?? null, w.spec.name).toBeNull();
    const { scenario, source } = resolveScenario('oom-reap-arm64');
    const after = await runCase(
      env,
      { scenario, source, kernel: '5.8', seed: 1 },
      CHAIN_TIMEOUT_MS,
    );
    expect(after.run.status, label(after)).toBe('completed');
    expect(after.run.logHash).toBe(simulate(scenario, { kernel: '5.8', seed: 1 }).logHash);
  }, 120_000);
});
