import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { expect, it } from 'vitest';
import { openDataSource, sqliteHandle } from './data-source.js';
import {
  measureRawSqliteInsertRate,
  type RawEventRow,
  SQLITE_EVENTS_DDL,
} from './raw-sqlite-rate.js';

const rows = (n: number): RawEventRow[] =>
  Array.from({ length: n }, (_, seq) => ({
    runId: 'bench',
    seq,
    id: `run.${seq}`,
    type: 'call',
    causationId: seq === 0 ? null : `run.${seq - 1}`,
    jiffies: seq,
    payload: JSON.stringify({ seq, pad: 'x'.repeat(180) }),
    recordedAt: '2026-11-24T10:00:00.000Z',
  }));

it('measures the same events table the migration creates', async () => {
  const { dataSource } = await openDataSource({ sqlitePath: ':memory:' });
  try {
    const db = sqliteHandle(dataSource);
    const table = db
      .prepare<[], { sql: string }>(
        `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'events'`,
      )
      .get();
    expect(table?.sql).toBe(SQLITE_EVENTS_DDL);
    // and no secondary index beyond the primary key
    const indexes = db
      .prepare<[], { name: string }>(
        `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'`,
      )
      .all();
    expect(indexes.map((i) => i.name).sort()).toEqual(['sqlite_autoindex_events_1']);
  } finally {
    await dataSource.destroy();
  }
});

it('inserts every row and cleans up its scratch file', () => {
  const before = readdirSync(tmpdir()).filter((f) => f.startsWith('mnsim-raw-'));
  const rate = measureRawSqliteInsertRate(rows(12_000));
  expect(rate.rows).toBe(12_000);
  expect(rate.rowsPerSec).toBeGreaterThan(0);
  expect(readdirSync(tmpdir()).filter((f) => f.startsWith('mnsim-raw-'))).toEqual(before);
  expect(measureRawSqliteInsertRate(rows(10), { path: ':memory:' }).rows).toBe(10);
});
