/**
 * The Postgres store when Postgres terminates its connections (pg_terminate_backend, a restart):
 * the process does not crash (an 'error' event nobody listens to would throw), the queries on a
 * terminated connection fail and the next ones get a new connection, and appends retried until
 * they succeed leave every event exactly once. The store names its connections, so that this
 * test terminates only its own: other tests share the server.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { openStore, type EventToAppend, type Store } from './index.js';
import { PG_TEST_URL, dropSchema } from './test-dialects.js';
import { TestLogs } from './test-events.js';

const WRITERS = 16;
/** how long the connections are terminated again and again */
const TERMINATING_MS = 3_000;
/** an append still failing this long after the terminations stopped fails the test */
const RETRY_BOUND_MS = 10_000;

const logs = new TestLogs();

function event(runId: string, seq: number): EventToAppend {
  return logs.toAppend({
    runId,
    id: `e${seq}`,
    seq,
    type: 'call',
    causationId: null,
    jiffies: seq,
    payload: { seq },
    recordedAt: new Date().toISOString(),
  });
}

describe('Postgres terminating the store’s connections', () => {
  const schema = `mnsim_test_${randomBytes(6).toString('hex')}`;
  const appName = `mnsim-spec/${schema}`;
  let store: Store;
  let admin: pg.Client;
  beforeAll(async () => {
    store = await openStore({ url: PG_TEST_URL, schema, applicationName: 'mnsim-spec' });
    admin = new pg.Client({ connectionString: PG_TEST_URL });
    await admin.connect();
  });
  afterAll(async () => {
    await store?.close();
    await admin?.end();
    await dropSchema(schema);
  });

  /**
   * Terminates every connection of the store; their pids. pg_terminate_backend stays in the select
   * list, run on the rows the WHERE kept: in the WHERE itself, beside the name test, the planner
   * may run it first, on every backend of the server.
   */
  async function terminate(): Promise<number[]> {
    const r = await admin.query<{ pid: number; terminated: boolean }>(
      'SELECT pid, pg_terminate_backend(pid) AS terminated FROM pg_stat_activity WHERE application_name = $1',
      [appName],
    );
    return r.rows.filter((row) => row.terminated).map((row) => row.pid);
  }

  /** Waits until the backends `pids` have exited (a termination is a signal: it takes a moment). */
  async function exited(pids: number[]): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const r = await admin.query<{ n: string }>(
        'SELECT count(*) AS n FROM pg_stat_activity WHERE pid = ANY($1)',
        [pids],
      );
      if (Number(r.rows[0].n) === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`backends ${pids.join(', ')} still there`);
  }

  it('names its connections after the service and the schema', async () => {
    await store.getRun('none');
    const r = await admin.query<{ n: string }>(
      'SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1',
      [appName],
    );
    expect(Number(r.rows[0].n)).toBeGreaterThan(0);
  });

  it('survives terminations under load; retried appends store every event exactly once', async () => {
    const runId = 'terminated';
    await store.createRun({ runId, scenario: 's', kernel: '5.8', arch: 'arm64', seed: 1 });
    const until = Date.now() + TERMINATING_MS;
    const pids: number[] = [];
    let failures = 0;
    const killer = (async () => {
      while (Date.now() < until) {
        await new Promise((r) => setTimeout(r, 30 + Math.random() * 70));
        pids.push(...(await terminate()));
      }
    })();
    // Each writer appends its events one by one, each until it succeeds (as a retried job
    // would), and reads some back in between: queries of every kind on dying connections.
    const appended: number[] = [];
    const writer = async (w: number): Promise<void> => {
      for (let i = 0; Date.now() < until; i++) {
        const seq = w * 10_000 + i;
        for (;;) {
          try {
            await store.appendEvents(runId, [event(runId, seq)], []);
            await store.readEvents(runId, { afterSeq: seq - 5, limit: 10 });
            break;
          } catch (err) {
            failures++;
            if (Date.now() > until + RETRY_BOUND_MS) throw err;
          }
        }
        appended.push(seq);
      }
    };
    await Promise.all([killer, ...Array.from({ length: WRITERS }, (_, w) => writer(w))]);
    expect(pids.length).toBeGreaterThan(10);
    expect(failures).toBeGreaterThan(0);

    // once the last terminated backends are gone, the store answers without a retry
    await exited(pids);
    const seqs: number[] = [];
    for await (const e of store.iterateEvents(runId, 500)) seqs.push(e.seq);
    expect(seqs).toEqual(appended.sort((a, b) => a - b));
  }, 60_000);
});
