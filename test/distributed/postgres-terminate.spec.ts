/**
 * Item 4 of the cluster's fault handling, on Postgres: while a campaign runs on real worker
 * processes, Postgres terminates the connections of the cluster's auditor and api again and again
 * (`pg_terminate_backend`, what an administrator, a failover or an idle-session killer does). The
 * auditor survives, and writes every event exactly once: every run completes with its embedded
 * logHash, the events table holds exactly the embedded events of each run and nothing twice, and
 * the violations are the embedded ones. The api survives too and answers from the store.
 *
 * Only this test's connections are terminated: the services name theirs `mnsim-<service>/<schema>`
 * (application_name) and the schema is the test's own; other tests share the server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { simulate } from '@mnsim/engine';
import { type CaseResult, campaign, expectEmbedded, runCase } from './campaign.js';
import { DATABASE_URL, type Env, testEnv } from './harness.js';
import { type Worker, buildDist, clusterEnv, startCluster, stopCluster } from './processes.js';

/** how often the cluster's connections are terminated while the campaign runs */
const TERMINATE_EVERY_MS = 400;
/** every run must have resolved within this */
const CAMPAIGN_BOUND_MS = 60_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('Postgres terminating the connections of the auditor and the api mid-campaign', () => {
  let env: Env;
  let workers: Worker[] = [];
  let admin: pg.Client | null = null;
  beforeAll(async () => {
    if (!process.env.MNSIM_TEST_SKIP_BUILD) buildDist();
    env = await testEnv('pgterm');
    workers = await startCluster(clusterEnv(env.prefix, env.schema), 1);
    admin = new pg.Client({ connectionString: DATABASE_URL, application_name: 'mnsim-test-admin' });
    await admin.connect();
  }, 120_000);
  afterAll(async () => {
    await admin?.end();
    await stopCluster(workers);
    await env?.cleanup();
  });

  /** this cluster's connections of `service`, by the name the service gives them */
  const appName = (service: string): string => `mnsim-${service}/${env.schema}`;

  /**
   * Terminates every connection of the cluster's auditor and api; how many of each.
   * pg_terminate_backend stays in the select list, run on the rows the WHERE kept: in the WHERE
   * itself, beside the name test, the planner may run it first, on every backend of the server.
   */
  async function terminate(): Promise<{ auditor: number; api: number }> {
    const r = await admin!.query<{ application_name: string; terminated: boolean }>(
      `SELECT application_name, pg_terminate_backend(pid) AS terminated
         FROM pg_stat_activity WHERE application_name = ANY($1)`,
      [[appName('auditor'), appName('api')]],
    );
    const n = (name: string): number =>
      r.rows.filter((row) => row.terminated && row.application_name === name).length;
    return { auditor: n(appName('auditor')), api: n(appName('api')) };
  }

  it('every event is written exactly once; every run completes with its embedded logHash', async () => {
    // the api reads a run from the store: a connection in its pool, for the terminations to hit
    const api = workers.find((w) => w.spec.app === 'api')!;
    const port = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(api.output)?.[1];
    expect(port, 'the api logs its port').toBeDefined();
    const runUrl = (runId: string): string => `http://127.0.0.1:${port}/runs/${runId}`;
    expect((await fetch(runUrl('none'))).status).toBe(404);

    const cases = campaign(1);
    const settled: Array<CaseResult | null> = cases.map(() => null);
    const all = Promise.all(
      cases.map((c, i) =>
        runCase(env, c).then((r) => {
          settled[i] = r;
          return r;
        }),
      ),
    );
    let campaignDone = false;
    const killed = { auditor: 0, api: 0, rounds: 0, roundsWithAuditor: 0 };
    const terminator = (async () => {
      while (!campaignDone) {
        await sleep(TERMINATE_EVERY_MS);
        if (campaignDone) break;
        const k = await terminate();
        killed.auditor += k.auditor;
        killed.api += k.api;
        killed.rounds++;
        if (k.auditor > 0 && settled.some((r) => r === null)) killed.roundsWithAuditor++;
      }
    })();
    // awaited below once the campaign is done; never an unhandled rejection if it is not
    terminator.catch(() => undefined);

    let timer: NodeJS.Timeout | undefined;
    const results = await Promise.race([
      all,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const hung = cases.filter((_, i) => settled[i] === null).length;
          reject(new Error(`${hung} runs still unresolved after ${CAMPAIGN_BOUND_MS} ms`));
        }, CAMPAIGN_BOUND_MS);
      }),
    ]).finally(() => {
      clearTimeout(timer);
      campaignDone = true;
    });
    await terminator;
    const auditor = workers.find((w) => w.spec.app === 'auditor')!;
    const retried = auditor.output
      .split('\n')
      .filter((l) => l.includes('"level":"error"') && l.includes('"job failed"')).length;
    console.log(
      `postgres terminate: ${killed.rounds} rounds, ${killed.auditor} auditor and ${killed.api} ` +
        `api connections terminated, ${killed.roundsWithAuditor} rounds with runs in flight; ` +
        `${retried} auditor jobs failed and were retried`,
    );
    // the auditor lost its connections again and again while runs were in flight; the api too
    expect(killed.roundsWithAuditor).toBeGreaterThanOrEqual(3);
    expect(retried, 'auditor jobs that failed on a terminated connection').toBeGreaterThan(0);
    expect(killed.api).toBeGreaterThanOrEqual(1);

    // every run completed as its embedded twin: logHash, event count, the violations stored
    const embeddedViolations = await expectEmbedded(env, results);

    // the events table: exactly the embedded events of each run, none twice
    const events = await admin!.query<{ run_id: string; n: string; seqs: string; ids: string }>(
      `SELECT run_id, count(*) AS n, count(DISTINCT seq) AS seqs, count(DISTINCT id) AS ids
         FROM "${env.schema}".events GROUP BY run_id`,
    );
    const byRun = new Map(events.rows.map((r) => [r.run_id, r]));
    expect(byRun.size).toBe(results.length);
    for (const { c, run } of results) {
      const embedded = simulate(c.scenario, { kernel: c.kernel, seed: c.seed });
      const row = byRun.get(run.runId);
      const counts = [row?.n, row?.seqs, row?.ids].map(Number);
      expect(counts, `${c.scenario.name} ${c.kernel}`).toEqual([
        embedded.events,
        embedded.events,
        embedded.events,
      ]);
    }
    // and exactly the embedded violations, none twice
    const v = await admin!.query<{ n: string; keys: string }>(
      `SELECT count(*) AS n, count(DISTINCT (run_id, seq)) AS keys FROM "${env.schema}".violations`,
    );
    expect([Number(v.rows[0].n), Number(v.rows[0].keys)]).toEqual([
      embeddedViolations,
      embeddedViolations,
    ]);

    // both services rode through it, connected again, and the api answers from the store
    for (const w of workers) expect(w.child?.exitCode ?? null, w.spec.name).toBeNull();
    const res = await fetch(runUrl(results[0].run.runId));
    expect(res.status).toBe(200);
    expect(((await res.json()) as { logHash: string }).logHash).toBe(results[0].run.logHash);
  }, 150_000);
});
