import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import { EVENT_TYPES } from '@mnsim/events';
import { openDataSource } from './data-source.js';
import { EVENT_TYPES_V1 } from './migrations/1795478400000-initial-schema.js';
import { MIGRATIONS } from './migrations/index.js';
import { TEST_DIALECTS, type TestDatabase } from './test-dialects.js';

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
  ],
  events: ['run_id', 'seq', 'id', 'type', 'causation_id', 'jiffies', 'payload', 'recorded_at'],
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
    expect(await indexes('events')).toEqual(['run_id,id', 'run_id,seq']);
    expect(await indexes('violations')).toEqual([
      'arch,kernel',
      'comm',
      'recorded_at,run_id,seq',
      'run_id,seq',
      'scenario',
      'signature',
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
