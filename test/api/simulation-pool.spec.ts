/**
 * POST /runs and replays off the request thread (issue "No request can take the service down",
 * finding 1): the 935 KB-class scenario that took the API down is stopped by a run limit and
 * answers 422 with the limit, its run recorded failed; /health answers while it is simulated; a
 * full pool answers 429 with Retry-After. On SQLite and on Postgres, with real threads.
 */
import type { INestApplication } from '@nestjs/common';
import { TEST_DIALECTS, type TestDatabase } from '../../libs/store/src/test-dialects.js';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostileScenario } from '../../bench/src/hostile-scenario.js';
import { type ApiConfig, createApiApp } from '@mnsim/http';
import { SimulationPool } from '../../libs/http/src/simulation-pool.js';
import { buildDist } from '../distributed/processes.js';

const configFor = (db: TestDatabase, threads: number, queue: number): ApiConfig => ({
  host: '127.0.0.1',
  port: 0,
  token: null,
  bodyLimitBytes: 1024 * 1024,
  store: db.options,
  simulation: { threads, queue },
});

describe.each(TEST_DIALECTS)('the simulation pool on $dialect', ({ setup }) => {
  let db: TestDatabase;
  let app: INestApplication;
  let http: ReturnType<typeof request>;

  beforeAll(async () => {
    buildDist();
    db = setup();
    app = await createApiApp(configFor(db, 1, 0), { logger: false });
    http = request(app.getHttpServer());
  });
  afterAll(async () => {
    await app?.close();
    await db?.cleanup();
  });

  it('stops the scenario that took the API down at a limit: 422 naming it, the run failed', async () => {
    const body = { scenario: hostileScenario() };
    expect(JSON.stringify(body).length).toBeGreaterThan(850_000);
    let answered = false;
    const run = http
      .post('/runs')
      .send(body)
      .then((res) => {
        answered = true;
        return res;
      });
    // the request thread is free: /health answers while the run is being simulated
    await until(() => app.get(SimulationPool).pending === 1);
    const health = await http.get('/health');
    expect(health.status).toBe(200);
    expect(answered).toBe(false);

    const res = await run;
    expect(res.status, JSON.stringify(res.body)).toBe(422);
    expect(res.body.message).toMatch(
      /^the run passed its limit of [\d,]+ (events|bytes of log): [\d,]+ at seq \d+ \(MNSIM_MAX_RUN_(EVENTS|BYTES) sets the limit\)$/,
    );
    const runs = await http.get('/runs?scenario=hostile-memslots');
    expect(runs.body.runs).toHaveLength(1);
    expect(runs.body.runs[0]).toMatchObject({ status: 'failed', logHash: null });
    expect(runs.body.runs[0].failureReason).toBe(res.body.message);
  });

  it('answers 429 with Retry-After while its one thread is busy and it has no queue', async () => {
    // supertest sends on then(): start it now
    const heavy = http
      .post('/runs')
      .send({ scenario: hostileScenario() })
      .then((res) => res);
    await until(() => app.get(SimulationPool).pending === 1);
    const refused = await http.post('/runs').send({ scenario: 'oom-reap-arm64' });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(refused.body.message).toMatch(/^every simulation thread is busy and the queue is full/);
    expect((await heavy).status).toBe(422);
    // and a place is free again once it answered
    const ok = await http.post('/runs').send({ scenario: 'oom-reap-arm64' });
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
  });

  it('replays on a thread too, with the same answer as the run it replays', async () => {
    const created = await http.post('/runs').send({ scenario: 'oom-reap-x86' });
    expect(created.status).toBe(201);
    const replay = await http.post(`/runs/${created.body.runId}/replay`).send({});
    expect(replay.status, JSON.stringify(replay.body)).toBe(200);
    expect(replay.body).toMatchObject({ matches: true, logHash: created.body.logHash });
  });
});

describe('the simulation pool on an in-memory SQLite store', () => {
  it('simulates on the request thread, one run at a time, under the same limits', async () => {
    const app = await createApiApp(
      {
        host: '127.0.0.1',
        port: 0,
        token: null,
        bodyLimitBytes: 1024 * 1024,
        store: { sqlitePath: ':memory:' },
      },
      { logger: false },
    );
    try {
      expect(app.get(SimulationPool).options.threads).toBe(0);
      const http = request(app.getHttpServer());
      const [a, b] = await Promise.all([
        http.post('/runs').send({ scenario: 'oom-reap-arm64' }),
        http.post('/runs').send({ scenario: 'oom-reap-arm64' }),
      ]);
      expect([a.status, b.status]).toEqual([201, 201]);
      expect(a.body.logHash).toBe(b.body.logHash);
    } finally {
      await app.close();
    }
  });
});

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 5));
  }
}
