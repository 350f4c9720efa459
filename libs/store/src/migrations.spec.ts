import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CanonicalEvent, EVENT_TYPES, LogInterner, canonicalJson } from '@mnsim/events';
import { openDataSource } from './data-source.js';
import { EVENT_TYPES_V1 } from './migrations/1795478400000-initial-schema.js';
import { MIGRATIONS } from './migrations/index.js';
import { LogFormat21795737600000 } from './migrations/1795737600000-log-format-2.js';
import { FindingKinds1795824000000 } from './migrations/1795824000000-finding-kinds.js';
import { TEST_DIALECTS, type TestDatabase } from './test-dialects.js';
import { openStore } from './store.js';

/** Real logs from before format 2 (test/fixtures/format-1): the runs a store held then. */
const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/format-1/', import.meta.url));
const FORMAT_1_LOGS = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.jsonl'))
  .sort()
  .map((f) => {
    const [header, ...lines] = readFileSync(join(FIXTURES, f), 'utf8').trimEnd().split('\n');
    return {
      runId: (JSON.parse(header) as { runId: string }).runId,
      events: lines.map((l) => JSON.parse(l) as CanonicalEvent),
    };
  });

const TABLES: Record<string, string[]> = {
  runs: [
    'run_id',
    'scenario',
    'kernel',
    'arch',
    'seed',
    'status',
    'events',
    'log_hash',
    'violations',
    'failure_reason',
    'created_at',
    'finished_at',
    'source',
    'origin',
  ],
  events: ['run_id', 'seq', 'id', 'type', 'causation_id', 'jiffies', 'payload', 'recorded_at'],
  log_defs: ['run_id', 'id', 'first_seq', 'kind', 'value'],
  violations: [
    'run_id',
    'seq',
    'event_id',
    'jiffies',
    'site',
    'in_atomic',
    'irqs_disabled',
    'non_block',
    'pid',
    'comm',
    'reported',
    'signature',
    'stack',
    'text',
    'scenario',
    'kernel',
    'arch',
    'recorded_at',
    'kind',
    'origin',
  ],
  signature_rollup: [
    'signature',
    'scenario',
    'kernel',
    'arch',
    'count',
    'runs',
    'first_seen',
    'last_seen',
  ],
  signature_runs: ['signature', 'run_id'],
};

async function describeTables(dataSource: DataSource): Promise<Record<string, string[] | null>> {
  const runner = dataSource.createQueryRunner();
  try {
    const out: Record<string, string[] | null> = {};
    for (const name of Object.keys(TABLES)) {
      const table = await runner.getTable(name);
      out[name] = table ? table.columns.map((c) => c.name) : null;
    }
    return out;
  } finally {
    await runner.release();
  }
}

it('the events CHECK admits exactly the event types of libs/events', () => {
  // a new event type needs a new migration that widens CHK_events_type
  expect([...EVENT_TYPES_V1]).toEqual([...EVENT_TYPES]);
});

describe.each(TEST_DIALECTS)('migrations on $dialect', ({ dialect, setup }) => {
  let db: TestDatabase;
  let dataSource: DataSource;

  beforeEach(async () => {
    db = setup();
    ({ dataSource } = await openDataSource(db.options));
  });

  afterEach(async () => {
    if (dataSource.isInitialized) await dataSource.destroy();
    await db.cleanup();
  });

  it('creates every table with its columns, and nothing is left pending', async () => {
    expect(await describeTables(dataSource)).toEqual(TABLES);
    expect(await dataSource.showMigrations()).toBe(false);
  });

  it('creates the indexes the queries rely on, columns in order', async () => {
    // from the catalogs: TypeORM's getTable() lists Postgres index columns in table order.
    // A partial index is its columns and ' (partial)'.
    const indexes = async (table: string): Promise<string[]> => {
      if (dialect === 'postgres') {
        const rows: { indexdef: string }[] = await dataSource.query(
          'SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2',
          [db.options.schema, table],
        );
        return rows
          .map((r) => {
            const m = /\(([^()]*)\)( WHERE .*)?$/.exec(r.indexdef);
            return (m?.[1].replace(/ /g, '') ?? '') + (m?.[2] ? ' (partial)' : '');
          })
          .sort();
      }
      const list: { name: string; partial: number }[] = await dataSource.query(
        `PRAGMA index_list("${table}")`,
      );
      const out: string[] = [];
      for (const { name, partial } of list) {
        const info: { name: string }[] = await dataSource.query(`PRAGMA index_info("${name}")`);
        out.push(info.map((c) => c.name).join(',') + (partial ? ' (partial)' : ''));
      }
      return out.sort();
    };
    expect(await indexes('runs')).toEqual([
      // the runs still running (failStaleRuns)
      'created_at (partial)',
      'created_at,run_id',
      'kernel,arch',
      'run_id',
      'scenario',
    ]);
    expect(await indexes('events')).toEqual(['run_id,seq']);
    expect(await indexes('log_defs')).toEqual(['run_id,first_seq', 'run_id,id']);
    expect(await indexes('violations')).toEqual([
      'arch,kernel',
      'comm',
      'recorded_at,run_id,seq',
      'run_id,seq',
      'scenario',
      'signature',
      // the observed findings (triage --record)
      'signature (partial)',
    ]);
  });

  it('reverts and re-applies cleanly', async () => {
    for (let i = 0; i < MIGRATIONS.length; i++) {
      await dataSource.undoLastMigration({ transaction: 'all' });
    }
    expect(await describeTables(dataSource)).toEqual(
      Object.fromEntries(Object.keys(TABLES).map((name) => [name, null])),
    );
    expect(await dataSource.showMigrations()).toBe(true);
    await dataSource.runMigrations({ transaction: 'all' });
    expect(await describeTables(dataSource)).toEqual(TABLES);
  });

  /** Undoes the migrations from `migration` on: the store as it was before it. */
  async function undoFrom(migration: (typeof MIGRATIONS)[number]): Promise<void> {
    const undo = MIGRATIONS.length - MIGRATIONS.indexOf(migration);
    for (let i = 0; i < undo; i++) await dataSource.undoLastMigration({ transaction: 'all' });
  }

  it('converts a store of format 1 logs to format 2, and back', async () => {
    // the store as it was before format 2, with format 1 rows
    await undoFrom(LogFormat21795737600000);
    const q = (name: string): string =>
      db.options.schema ? `"${db.options.schema}"."${name}"` : `"${name}"`;
    const p = (n: number): string => (dialect === 'postgres' ? `$${n}` : '?');
    const runs = FORMAT_1_LOGS.slice(0, 2);
    for (const { runId, events } of runs) {
      for (const e of events) {
        await dataSource.query(
          `INSERT INTO ${q('events')} ("run_id", "seq", "id", "type", "causation_id", "jiffies", "payload", "recorded_at") ` +
            `VALUES (${[1, 2, 3, 4, 5, 6, 7, 8].map(p).join(', ')})`,
          [
            runId,
            e.seq,
            e.id,
            e.type,
            e.causationId,
            e.jiffies,
            canonicalJson(e.payload),
            '2026-12-06T00:00:00.000Z',
          ],
        );
      }
    }
    const payloads = async (): Promise<string[]> =>
      (
        await dataSource.query<{ payload: string }[]>(
          `SELECT "payload" FROM ${q('events')} ORDER BY "run_id", "seq"`,
        )
      ).map((r) => r.payload);
    const format1 = await payloads();
    await dataSource.runMigrations({ transaction: 'all' });
    await dataSource.destroy();

    const store = await openStore(db.options);
    try {
      for (const { runId, events } of runs) {
        // the stored log is the one the interner writes, and reads back as it was
        const lines: string[] = [];
        for await (const e of store.iterateLog(runId, 7)) lines.push(...e.lines);
        expect(lines).toEqual(LogInterner.lines(events));
        const read = await store.readEvents(runId, { limit: 1000 });
        expect(read.map((e) => canonicalJson(e.payload))).toEqual(
          events.map((e) => canonicalJson(e.payload)),
        );
      }
    } finally {
      await store.close();
    }
    ({ dataSource } = await openDataSource(db.options));
    const format2 = await payloads();
    expect(format2.join('').length).toBeLessThan(format1.join('').length / 2);
    await undoFrom(LogFormat21795737600000);
    expect(await payloads()).toEqual(format1);
  });

  it('names the kind of the violations stored before findings had kinds: atomic-sleep, simulated', async () => {
    await undoFrom(FindingKinds1795824000000);
    const q = (name: string): string =>
      db.options.schema ? `"${db.options.schema}"."${name}"` : `"${name}"`;
    const p = (n: number): string => (dialect === 'postgres' ? `$${n}` : '?');
    const columns = TABLES.violations.filter((c) => c !== 'kind' && c !== 'origin');
    const row: Record<string, unknown> = {
      run_id: 'old-run',
      seq: 7,
      event_id: 'r7',
      jiffies: 10,
      site: 'arch/arm64/kvm/mmu.c:394',
      in_atomic: 1,
      irqs_disabled: 0,
      non_block: 1,
      pid: 36,
      comm: 'oom_reaper',
      reported: dialect === 'postgres' ? true : 1,
      signature: 'BUG: sleeping function called from invalid context in unmap_stage2_range',
      stack: '["___might_sleep"]',
      text: 'BUG: sleeping function called from invalid context at arch/arm64/kvm/mmu.c:394',
      scenario: 'oom-reap-arm64',
      kernel: '5.8',
      arch: 'arm64',
      recorded_at: '2026-12-06T00:00:00.000Z',
    };
    await dataSource.query(
      `INSERT INTO ${q('violations')} (${columns.map((c) => `"${c}"`).join(', ')}) ` +
        `VALUES (${columns.map((_, i) => p(i + 1)).join(', ')})`,
      columns.map((c) => row[c]),
    );
    await dataSource.runMigrations({ transaction: 'all' });
    await dataSource.destroy();
    const store = await openStore(db.options);
    try {
      const all = await store.queryViolations({ limit: 10 });
      expect(all.rows.map((v) => [v.runId, v.seq, v.kind, v.origin])).toEqual([
        ['old-run', 7, 'atomic-sleep', 'simulated'],
      ]);
      expect((await store.queryViolations({ kind: 'notifier-imbalance', limit: 10 })).rows).toEqual(
        [],
      );
      expect((await store.groupBySignature({})).map((g) => [g.signature, g.kind])).toEqual([
        [row.signature, 'atomic-sleep'],
      ]);
    } finally {
      await store.close();
    }
    ({ dataSource } = await openDataSource(db.options));
  });

  it('opening again runs nothing twice', async () => {
    await dataSource.destroy();
    const again = await openDataSource(db.options);
    try {
      expect(await describeTables(again.dataSource)).toEqual(TABLES);
      const applied: unknown[] = await again.dataSource.query(
        dialect === 'postgres'
          ? `SELECT name FROM "${db.options.schema}"."mnsim_migrations"`
          : 'SELECT name FROM "mnsim_migrations"',
      );
      expect(applied).toHaveLength(MIGRATIONS.length);
    } finally {
      await again.dataSource.destroy();
    }
  });
});

describe('migrations on postgres, several processes at once', () => {
  it('serializes concurrent openings of one fresh schema (npm run cluster starts all at once)', async () => {
    const db = TEST_DIALECTS.find((d) => d.dialect === 'postgres')!.setup();
    const opened = await Promise.allSettled(
      Array.from({ length: 4 }, () => openDataSource(db.options)),
    );
    try {
      expect(opened.map((o) => o.status)).toEqual([
        'fulfilled',
        'fulfilled',
        'fulfilled',
        'fulfilled',
      ]);
    } finally {
      for (const o of opened) if (o.status === 'fulfilled') await o.value.dataSource.destroy();
      await db.cleanup();
    }
  });
});
