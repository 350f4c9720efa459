/**
 * Runs are never orphaned (issue 15): a run left `running` by a client or orchestrator that is
 * gone ends `failed` once nothing of it was seen for the run timeout (failStaleRuns); and a
 * store whose SQLite file was deleted or replaced says so (checkPresent).
 */
import { copyFileSync, renameSync, rmSync } from 'node:fs';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunEvent } from '@mnsim/events';
import { openStore, type Store, StoreGoneError, InvalidStoreInputError } from './index.js';
import { PG_TEST_URL, TEST_DIALECTS, type TestDatabase } from './test-dialects.js';
import { TestLogs } from './test-events.js';

const logs = new TestLogs();

const TIMEOUT_MS = 60_000;
const REASON = 'no sign of life for 60 s (MNSIM_RUN_TIMEOUT): its client or orchestrator is gone';

const later = (ms: number): Date => new Date(Date.now() + ms);

function newRun(runId: string) {
  return { runId, scenario: 'oom-reap-arm64', kernel: '5.8', arch: 'arm64', seed: 1 };
}

/** events 0..seqs-1 of the run, each recorded at `recordedAt(seq)` */
async function record(
  store: Store,
  runId: string,
  seqs: number,
  recordedAt: (seq: number) => Date,
): Promise<void> {
  const events = Array.from({ length: seqs }, (_, seq) => {
    const event: RunEvent = {
      runId,
      id: seq === 0 ? 'run' : `run.${seq - 1}`,
      seq,
      type: seq === 0 ? 'run.start' : 'call',
      causationId: seq === 0 ? null : 'run',
      jiffies: seq,
      payload: { seq },
      recordedAt: recordedAt(seq).toISOString(),
    };
    return logs.toAppend(event);
  });
  await store.appendEvents(runId, events, []);
}

describe.each(TEST_DIALECTS)('failStaleRuns on $dialect', ({ dialect, setup }) => {
  let db: TestDatabase;
  let store: Store;

  beforeEach(async () => {
    db = setup();
    store = await openStore(db.options);
  });

  afterEach(async () => {
    await store.close();
    await db.cleanup();
  });

  it('fails a run left running by a killed client, with the reason, once its timeout passed', async () => {
    // the client created the run and was killed before it recorded anything
    await store.createRun(newRun('killed'));
    const created = Date.parse((await store.getRun('killed'))!.createdAt);

    const early = await store.failStaleRuns({
      olderThanMs: TIMEOUT_MS,
      reason: REASON,
      now: new Date(created + TIMEOUT_MS - 1000),
    });
    expect(early).toEqual([]);
    expect((await store.getRun('killed'))!.status).toBe('running');

    const now = new Date(created + TIMEOUT_MS + 1000);
    const failed = await store.failStaleRuns({ olderThanMs: TIMEOUT_MS, reason: REASON, now });
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({
      runId: 'killed',
      status: 'failed',
      failureReason: REASON,
      finishedAt: now.toISOString(),
      seed: 1,
      events: 0,
    });
    expect(await store.getRun('killed')).toEqual(failed[0]);
  });

  it('leaves a run whose latest event is recent, and fails one whose latest event is old', async () => {
    const now = later(10 * TIMEOUT_MS);
    await store.createRun(newRun('alive'));
    await store.createRun(newRun('quiet'));
    // alive: its first events are old, its latest (by seq) was recorded a second ago
    await record(store, 'alive', 5, (seq) =>
      seq < 4 ? new Date(now.getTime() - 5 * TIMEOUT_MS) : new Date(now.getTime() - 1000),
    );
    // quiet: it moved a while after its start, then nothing for more than the timeout
    await record(store, 'quiet', 3, () => new Date(now.getTime() - TIMEOUT_MS - 1000));

    const failed = await store.failStaleRuns({ olderThanMs: TIMEOUT_MS, reason: REASON, now });
    expect(failed.map((r) => r.runId)).toEqual(['quiet']);
    expect((await store.getRun('alive'))!.status).toBe('running');
    expect((await store.getRun('quiet'))!).toMatchObject({
      status: 'failed',
      failureReason: REASON,
    });
  });

  it('leaves finished runs as they are', async () => {
    await store.createRun(newRun('done'));
    await store.finishRun('done', { status: 'completed', events: 0, logHash: 'h', violations: 0 });
    await store.createRun(newRun('broken'));
    await store.finishRun('broken', {
      status: 'failed',
      events: 0,
      logHash: null,
      violations: 0,
      failureReason: 'its own reason',
    });
    const before = [await store.getRun('done'), await store.getRun('broken')];

    const failed = await store.failStaleRuns({
      olderThanMs: TIMEOUT_MS,
      reason: REASON,
      now: later(10 * TIMEOUT_MS),
    });
    expect(failed).toEqual([]);
    expect([await store.getRun('done'), await store.getRun('broken')]).toEqual(before);
  });

  it('two sweeps at once, from two stores, fail each run exactly once', async () => {
    const other = await openStore(db.options);
    try {
      const ids = Array.from({ length: 40 }, (_, i) => `orphan-${String(i).padStart(2, '0')}`);
      for (const id of ids) await store.createRun(newRun(id));
      const now = later(2 * TIMEOUT_MS);
      const sweeps = await Promise.all(
        [store, other, store, other].map((s) =>
          s.failStaleRuns({ olderThanMs: TIMEOUT_MS, reason: REASON, now }),
        ),
      );
      const failed = sweeps.flat().map((r) => r.runId);
      expect(failed.sort()).toEqual(ids);
      const rows = await store.listRuns({ status: 'failed', limit: 100 });
      expect(rows.rows).toHaveLength(ids.length);
    } finally {
      await other.close();
    }
  });

  it.runIf(dialect === 'postgres')(
    'a run finished while the sweep waits for its row is not failed',
    async () => {
      await store.createRun(newRun('finishing'));
      // another process is finishing the run: its transaction holds the row
      const finisher = new pg.Client({ connectionString: PG_TEST_URL });
      await finisher.connect();
      try {
        await finisher.query('BEGIN');
        await finisher.query(
          `UPDATE "${db.options.schema}"."runs" SET "status" = 'completed' WHERE "run_id" = $1`,
          ['finishing'],
        );
        const sweep = store.failStaleRuns({
          olderThanMs: TIMEOUT_MS,
          reason: REASON,
          now: later(2 * TIMEOUT_MS),
        });
        // the sweep is blocked on the row, and sees it completed once the finisher commits
        await new Promise((r) => setTimeout(r, 300));
        await finisher.query('COMMIT');
        expect(await sweep).toEqual([]);
      } finally {
        await finisher.end();
      }
      expect((await store.getRun('finishing'))!.status).toBe('completed');
    },
  );

  it('refuses a negative age and an empty reason', async () => {
    await expect(store.failStaleRuns({ olderThanMs: -1, reason: REASON })).rejects.toThrow(
      InvalidStoreInputError,
    );
    await expect(store.failStaleRuns({ olderThanMs: TIMEOUT_MS, reason: '' })).rejects.toThrow(
      InvalidStoreInputError,
    );
  });

  it('checkPresent: a store whose database is in place is present', async () => {
    await expect(store.checkPresent()).resolves.toBeUndefined();
  });
});

describe('checkPresent on SQLite', () => {
  let db: TestDatabase;
  let store: Store;
  let path: string;

  beforeEach(async () => {
    db = TEST_DIALECTS.find((d) => d.dialect === 'sqlite')!.setup();
    path = db.options.sqlitePath!;
    store = await openStore(db.options);
  });

  afterEach(async () => {
    await store.close();
    await db.cleanup();
  });

  it('throws StoreGoneError once the file is deleted, though writes still succeed', async () => {
    rmSync(path);
    // the connection writes on, to a file no one else can open: why the check is needed
    await store.createRun(newRun('lost'));
    const err: unknown = await store.checkPresent().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreGoneError);
    expect(err).toMatchObject({ path, replaced: false, kind: 'unavailable', exitCode: 3 });
    expect((err as Error).message).toBe(
      `the SQLite database ${path} is gone: deleted or moved since the store opened it`,
    );
  });

  it('throws StoreGoneError when another file took the path', async () => {
    copyFileSync(path, `${path}.copy`);
    renameSync(`${path}.copy`, path);
    const err: unknown = await store.checkPresent().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreGoneError);
    expect(err).toMatchObject({ path, replaced: true });
    expect((err as Error).message).toBe(
      `the SQLite database ${path} was replaced by another file since the store opened it`,
    );
  });

  it('an in-memory store has no file to lose', async () => {
    const memory = await openStore({ sqlitePath: ':memory:' });
    try {
      await expect(memory.checkPresent()).resolves.toBeUndefined();
    } finally {
      await memory.close();
    }
  });
});
