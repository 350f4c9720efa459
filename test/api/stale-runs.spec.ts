/**
 * Runs are never orphaned (issue 15): the api fails, every few seconds, the runs its store holds
 * that have shown no sign of life for MNSIM_RUN_TIMEOUT, with a reason that says so, one JSON log
 * line each; a run that keeps recording events is left running, and /metrics counts what the
 * sweep failed. Runs here are written by a second store on the same database, as a client in
 * another process would (and then be killed).
 */
import type { INestApplication } from '@nestjs/common';
import { workerLogger } from '@mnsim/bus';
import type { RunEvent } from '@mnsim/events';
import { openStore, type Store } from '@mnsim/store';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type ApiConfig, createApiApp } from '@mnsim/http';
import { TEST_DIALECTS } from '../../libs/store/src/test-dialects.js';
import { TestLogs } from '../../libs/store/src/test-events.js';

const logs = new TestLogs();

const RUN_TIMEOUT_MS = 1000;
const REASON = 'no sign of life for 1 s (MNSIM_RUN_TIMEOUT): its client or orchestrator is gone';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const run = (runId: string) => ({
  runId,
  scenario: 'oom-reap-arm64',
  kernel: '5.8',
  arch: 'arm64',
  seed: 1,
});

/** one more event of the run, recorded now: a sign of life */
async function recordEvent(store: Store, runId: string, seq: number): Promise<void> {
  const event: RunEvent = {
    runId,
    id: seq === 0 ? 'run' : `run.${seq - 1}`,
    seq,
    type: seq === 0 ? 'run.start' : 'call',
    causationId: seq === 0 ? null : 'run',
    jiffies: seq,
    payload: { seq },
    recordedAt: new Date().toISOString(),
  };
  await store.appendEvents(runId, [logs.toAppend(event)], []);
}

describe.each(TEST_DIALECTS)('the api fails the runs left running, on $dialect', ({ setup }) => {
  let db: ReturnType<(typeof TEST_DIALECTS)[number]['setup']>;
  let app: INestApplication;
  let http: ReturnType<typeof request>;
  /** the client's store: another connection to the same database */
  let client: Store;
  /** what the api wrote to stdout and stderr */
  let output = '';

  beforeAll(async () => {
    db = setup();
    const capture = (chunk: unknown): boolean => {
      output += String(chunk);
      return true;
    };
    vi.spyOn(process.stdout, 'write').mockImplementation(capture);
    vi.spyOn(process.stderr, 'write').mockImplementation(capture);
    const config: ApiConfig = {
      host: '127.0.0.1',
      port: 0,
      token: null,
      bodyLimitBytes: 1024 * 1024,
      store: db.options,
      runTimeoutMs: RUN_TIMEOUT_MS,
    };
    // the api process's logger: one JSON object a line
    app = await createApiApp(config, { logger: workerLogger('api') });
    http = request(app.getHttpServer());
    client = await openStore(db.options);
  });

  afterAll(async () => {
    await client?.close();
    await app?.close();
    vi.restoreAllMocks();
    await db?.cleanup();
  });

  it('fails a run whose client was killed, leaves one that records events, and /metrics counts it', async () => {
    // killed: created, then nothing; alive: an event every 200 ms
    await client.createRun(run('killed'));
    await client.createRun(run('alive'));
    let seq = 0;
    await recordEvent(client, 'alive', seq++);
    const heartbeat = setInterval(() => void recordEvent(client, 'alive', seq++), 200);
    try {
      let killed: { status: string; failureReason: string | null } | null = null;
      for (let i = 0; i < 50; i++) {
        const res = await http.get('/runs/killed');
        expect(res.status).toBe(200);
        if (res.body.status !== 'running') {
          killed = res.body;
          break;
        }
        await sleep(100);
      }
      expect(killed).toMatchObject({ status: 'failed', failureReason: REASON });
      // a few more sweeps: the run that moves stays running
      await sleep(3 * RUN_TIMEOUT_MS);
      expect((await http.get('/runs/alive')).body.status).toBe('running');

      const metrics = (await http.get('/metrics')).text;
      expect(metrics).toContain('mnsim_runs{status="running"} 1\n');
      expect(metrics).toContain('mnsim_runs{status="failed"} 1\n');
    } finally {
      clearInterval(heartbeat);
    }

    // once quiet, the other run goes the same way
    await sleep(RUN_TIMEOUT_MS);
    for (let i = 0; i < 50 && (await client.getRun('alive'))!.status === 'running'; i++) {
      await sleep(100);
    }
    expect(await client.getRun('alive')).toMatchObject({ status: 'failed', failureReason: REASON });
    expect((await http.get('/metrics')).text).toContain('mnsim_runs{status="failed"} 2\n');

    // one JSON object a line, and one line per run failed
    const lines = output.trimEnd().split('\n');
    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const failed = records.filter((r) => r.message === 'run failed: no sign of life');
    expect(failed.map((r) => r.runId)).toEqual(['killed', 'alive']);
    expect(failed[0]).toMatchObject({
      level: 'warn',
      context: 'mnsim-api',
      runId: 'killed',
      status: 'failed',
      scenario: 'oom-reap-arm64',
      failureReason: REASON,
    });
  });
});
