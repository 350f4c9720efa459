/**
 * Item 4 of the cluster's fault handling, with persistence: a Redis of the test's own with
 * appendonly on is restarted in the middle of a campaign on real worker processes, and nothing is
 * lost: every run, in flight at the restart or not, completes with its embedded twin's logHash,
 * and Postgres holds exactly its embedded events and violations. redis-restart.spec.ts restarts a
 * Redis without persistence (the runs in flight fail with the reason).
 *
 * The restart is the one a user makes (`systemctl restart redis`, `docker compose restart`,
 * `redis-cli shutdown` and start again): SIGTERM, on which Redis writes and fsyncs its AOF before
 * it exits, then a start on the same port and directory, with Redis's default fsync policy
 * (everysec, what `--appendonly yes` gives). A crash of the Redis process (SIGKILL) is not the
 * test: under everysec Redis may answer writes it has not yet written while a slow fsync is under
 * way, so a crash may lose them; with `appendfsync always` it writes and fsyncs before it answers,
 * and a SIGKILL in place of the SIGTERM here passes too (checked by hand, at about twice the
 * time). A crash without persistence is redis-restart.spec.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { campaign, expectEmbedded, startCampaign } from './campaign.js';
import { type Env, testEnv } from './harness.js';
import { PrivateRedis } from './private-redis.js';
import { type Worker, buildDist, clusterEnv, startCluster, stopCluster } from './processes.js';

/**
 * The chain timeout of each run: the default, far longer than the restart takes, so that a run
 * fails only if something was lost (a lost job never completes, however long the wait). With
 * 10 s, one run of the whole suite (two files at a time on two cores) failed a chain that had not
 * completed 10 s after the restart though every queue had its worker; not reproduced since.
 */
const CHAIN_TIMEOUT_MS = 30_000;
/** every run must have resolved this long after Redis is back */
const RESOLVE_BOUND_MS = 60_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The server's run_id: a new one after every restart. */
async function serverRunId(url: string): Promise<string> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await r.connect();
    const info = await r.info('server');
    return /run_id:(\w+)/.exec(info)?.[1] ?? '';
  } finally {
    r.disconnect();
  }
}

describe('Redis with appendonly restarted in the middle of a campaign', () => {
  let redis: PrivateRedis | null = null;
  let env: Env;
  let workers: Worker[] = [];
  beforeAll(async () => {
    if (!process.env.MNSIM_TEST_SKIP_BUILD) buildDist();
    redis = await PrivateRedis.start({ appendonly: true });
    env = await testEnv('raof', redis.url);
    workers = await startCluster(clusterEnv(env.prefix, env.schema, redis.url), 1);
  }, 120_000);
  afterAll(async () => {
    await stopCluster(workers);
    await env?.cleanup();
    await redis?.cleanup();
  });

  it('loses nothing: every run completes with its embedded logHash, events and violations', async () => {
    const cases = campaign(1);
    const running = startCampaign(env, cases, CHAIN_TIMEOUT_MS);
    const done = running.done;
    // restart once the campaign is well under way: some runs closed, most still in flight
    for (let i = 0; i < 600 && done() < 5; i++) await sleep(50);
    const inFlightAtStop = cases.length - done();
    expect(inFlightAtStop).toBeGreaterThan(0);
    const before = await serverRunId(redis!.url);
    await redis!.stop();
    await sleep(500);
    await redis!.start();
    expect(await serverRunId(redis!.url)).not.toBe(before);

    const results = await running.settledWithin(RESOLVE_BOUND_MS);

    // nothing lost: every run completed, each one its embedded twin (logHash, the events and
    // violations the store holds for it)
    await expectEmbedded(env, results);
    console.log(
      `redis aof restart: ${inFlightAtStop} of ${cases.length} runs in flight at the stop; all completed`,
    );
    // the workers rode through the restart
    for (const w of workers) expect(w.child?.exitCode ?? null, w.spec.name).toBeNull();
  }, 120_000);
});
