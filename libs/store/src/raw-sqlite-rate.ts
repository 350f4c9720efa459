import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { applySqlitePragmas } from './data-source.js';

/**
 * The `events` table exactly as the initial migration creates it on SQLite (sqlite_master.sql).
 * A spec runs the migration and compares, so the ceiling below always measures the table the
 * store really writes: same columns, CHECKs and primary key.
 */
export const SQLITE_EVENTS_DDL =
  'CREATE TABLE "events" ("run_id" varchar NOT NULL, "seq" integer NOT NULL, "id" varchar NOT NULL, ' +
  '"type" varchar NOT NULL, "causation_id" varchar, "jiffies" integer NOT NULL, "payload" text NOT NULL, ' +
  '"recorded_at" varchar NOT NULL, ' +
  `CONSTRAINT "CHK_events_type" CHECK (("type" IN ('run.start', 'step', 'timer', 'call', 'return', 'violation', 'run.end'))), ` +
  'CONSTRAINT "CHK_events_position" CHECK (("seq" >= 0 AND "jiffies" >= 0)), PRIMARY KEY ("run_id", "seq"))';

export interface RawEventRow {
  runId: string;
  seq: number;
  id: string;
  type: string;
  causationId: string | null;
  jiffies: number;
  payload: string;
  recordedAt: string;
}

export interface RawInsertRate {
  rowsPerSec: number;
  rows: number;
  elapsedMs: number;
}

/** rows per transaction, for the ceiling and for the SQLite event sink alike */
export const SQLITE_BATCH_ROWS = 5000;

/**
 * The ceiling for the embedded engine's persistence: how fast plain better-sqlite3 inserts these
 * rows into the same `events` table, with one cached prepared statement and one transaction per
 * 5,000 rows, and nothing else (no TypeORM, no buffering, no conversions). The benchmark divides
 * the engine's persisted events/s by this (`persistRatio`, required >= 0.5).
 *
 * By default it writes a scratch file in the OS temp directory with the same pragmas the store
 * uses (WAL, synchronous=NORMAL), so the two compare like with like; `path: ':memory:'` measures
 * without any file I/O. Only the inserts are timed, not the setup.
 */
export function measureRawSqliteInsertRate(
  rows: RawEventRow[],
  opts: { path?: string } = {},
): RawInsertRate {
  const scratchDir = opts.path === undefined ? mkdtempSync(join(tmpdir(), 'mnsim-raw-')) : null;
  const path = scratchDir === null ? (opts.path as string) : join(scratchDir, 'raw.sqlite');
  const db = new Database(path);
  try {
    if (path !== ':memory:') applySqlitePragmas(db);
    db.exec(SQLITE_EVENTS_DDL);
    const insert = db.prepare(
      'INSERT INTO "events" ("run_id", "seq", "id", "type", "causation_id", "jiffies", "payload", "recorded_at") ' +
        'VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const insertBatch = db.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const r = rows[i];
        insert.run(r.runId, r.seq, r.id, r.type, r.causationId, r.jiffies, r.payload, r.recordedAt);
      }
    });
    const start = performance.now();
    for (let from = 0; from < rows.length; from += SQLITE_BATCH_ROWS) {
      insertBatch(from, Math.min(from + SQLITE_BATCH_ROWS, rows.length));
    }
    const elapsedMs = performance.now() - start;
    return {
      rowsPerSec: elapsedMs > 0 ? (rows.length * 1000) / elapsedMs : 0,
      rows: rows.length,
      elapsedMs,
    };
  } finally {
    db.close();
    if (scratchDir !== null) rmSync(scratchDir, { recursive: true, force: true });
  }
}
