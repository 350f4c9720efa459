/**
 * Invariant 1 at scale, on real worker processes: 3 replicas of each worker and 200 runs in flight
 * at once (built-in scenarios × variants × seeds); every run equals its embedded twin, and
 * Postgres holds exactly the embedded violations, no more, no fewer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { campaign, expectEmbedded, runAll } from './campaign.js';
import { DATABASE_URL, type Env, testEnv } from './harness.js';
import { type Worker, buildDist, clusterEnv, startCluster, stopCluster } from './processes.js';

const RUNS = 200;
const REPLICAS = 3;

describe('3 replicas of each worker, 200 runs in flight', () => {
  let env: Env;
  let workers: Worker[] = [];
  beforeAll(async () => {
    if (!process.env.MNSIM_TEST_SKIP_BUILD) buildDist();
    env = await testEnv('scale');
    workers = await startCluster(clusterEnv(env.prefix, env.schema), REPLICAS);
  }, 120_000);
  afterAll(async () => {
    await stopCluster(workers);
    await env?.cleanup();
  });

  it('every run equals its embedded twin; Postgres holds the embedded violation count', async () => {
    const cases = campaign(Math.ceil(RUNS / campaign(1).length)).slice(0, RUNS);
    expect(cases).toHaveLength(RUNS);
    expect(new Set(cases.map((c) => `${c.scenario.name} ${c.kernel} ${c.seed}`)).size).toBe(RUNS);
    const results = await runAll(env, cases);
    const embeddedViolations = await expectEmbedded(env, results);
    expect(embeddedViolations).toBeGreaterThan(0);

    const c = new pg.Client({ connectionString: DATABASE_URL });
    await c.connect();
    try {
      const v = await c.query<{ n: string }>(
        `SELECT count(*) AS n FROM "${env.schema}".violations`,
      );
      expect(Number(v.rows[0].n)).toBe(embeddedViolations);
      const runs = await c.query<{ status: string; n: string }>(
        `SELECT status, count(*) AS n FROM "${env.schema}".runs GROUP BY status`,
      );
      expect(runs.rows.map((r) => [r.status, Number(r.n)])).toEqual([['completed', RUNS]]);
    } finally {
      await c.end();
    }
    // every replica stayed up through the campaign
    for (const w of workers) expect(w.child?.exitCode ?? null, w.spec.name).toBeNull();
  }, 180_000);
});
