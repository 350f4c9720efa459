/**
 * Real worker processes (dist/), 3 replicas of each. Invariant 1 at scale: 200 runs in flight at
 * once (built-in scenarios × variants × seeds); every run equals its embedded twin, and Postgres
 * holds exactly the embedded violations, no more, no fewer. The workers keep BullMQ's per-queue
 * counts that /metrics reports. Invariant 4: a malformed message on each queue goes to the
 * dead-letter queue with its reason, and the run beside it completes. Invariant 2, a worker
 * SIGKILLed mid-campaign and started again, is cluster-script.spec.ts's (with 2 replicas and with
 * 1): there `npm run cluster` restarts it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import {
  AUDITOR_QUEUE,
  COMPONENT_QUEUES,
  DEAD_LETTER_QUEUE,
  ORCHESTRATOR_QUEUE,
  kvmQueue,
} from '@mnsim/runtime';
import { ARCHES } from '@mnsim/kernel';
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

  it("the worker processes keep BullMQ's per-queue counts that /metrics reports", async () => {
    const replicated = [
      ORCHESTRATOR_QUEUE,
      AUDITOR_QUEUE,
      COMPONENT_QUEUES.task,
      COMPONENT_QUEUES.mm,
      COMPONENT_QUEUES.oom,
      kvmQueue('arm64'),
    ];
    for (const name of replicated) {
      const q = env.bus.queue(name);
      expect(await q.getWorkersCount(), name).toBeGreaterThanOrEqual(REPLICAS);
      expect((await q.getMetrics('completed', 0, 0)).meta.count, name).toBeGreaterThan(0);
    }
  });

  it('a malformed message on each queue goes to the dead-letter queue; the run beside it completes', async () => {
    const queues = [
      ORCHESTRATOR_QUEUE,
      AUDITOR_QUEUE,
      COMPONENT_QUEUES.mm,
      COMPONENT_QUEUES.oom,
      COMPONENT_QUEUES.task,
      ...ARCHES.map(kvmQueue),
    ];
    for (const q of queues) {
      await env.bus
        .queue(q)
        .add('invoke', { runId: 'not a run id!', garbage: true }, { jobId: `bad-${q}` });
    }
    await env.bus.queue(COMPONENT_QUEUES.mm).add('no-such-job', { x: 1 }, { jobId: 'bad-name-mm' });
    const [{ run }] = await runAll(env, campaign(1).slice(0, 1));
    expect(run.status).toBe('completed');
    const dlq = env.bus.queue(DEAD_LETTER_QUEUE);
    let dead: Array<{ data: { queue: string; reason: string } }> = [];
    for (let i = 0; i < 100; i++) {
      dead = (await dlq.getJobs(['waiting', 'wait'], 0, 100)) as never;
      if (dead.length >= queues.length + 1) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(new Set(dead.map((j) => j.data.queue))).toEqual(new Set(queues));
    expect(
      dead.find((j) => j.data.reason.includes("unknown job name 'no-such-job'")),
    ).toBeDefined();
    for (const j of dead) expect(j.data.reason).toMatch(/runId|unknown job name/);
    // the workers keep serving: every one of them is still alive
    for (const w of workers) expect(w.child?.exitCode ?? null).toBeNull();
    // each malformed message is one structured line (Nest's JSON logger) naming it
    const logged = workers
      .flatMap((w) => w.output.split('\n'))
      .filter((l) => l.includes('dead-letter'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(new Set(logged.map((l) => l.jobId))).toEqual(
      new Set([...queues.map((q) => `bad-${q}`), 'bad-name-mm']),
    );
    for (const l of logged) {
      expect(l).toMatchObject({ level: 'warn', message: expect.stringContaining('dead-letter') });
      expect(typeof l.context).toBe('string');
      expect(typeof l.timestamp).toBe('number');
    }
  }, 60_000);
});
