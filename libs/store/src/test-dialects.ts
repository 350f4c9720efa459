import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Dialect, StoreOptions } from './types.js';

/*
 * Test support, not part of the public surface: the two databases every store spec runs against.
 * SQLite gets a temporary file, Postgres a freshly created schema of its own; both are removed
 * afterwards.
 */

export const PG_TEST_URL =
  process.env.MNSIM_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  options: StoreOptions;
  cleanup(): Promise<void>;
}

export interface TestDialect {
  dialect: Dialect;
  setup: (this: void) => TestDatabase;
}

export const TEST_DIALECTS: TestDialect[] = [
  {
    dialect: 'sqlite',
    setup() {
      const dir = mkdtempSync(join(tmpdir(), 'mnsim-store-'));
      return {
        options: { sqlitePath: join(dir, 'mnsim.sqlite') },
        cleanup: () => {
          rmSync(dir, { recursive: true, force: true });
          return Promise.resolve();
        },
      };
    },
  },
  {
    dialect: 'postgres',
    setup() {
      const schema = `mnsim_test_${randomBytes(6).toString('hex')}`;
      return {
        options: { url: PG_TEST_URL, schema },
        cleanup: () => dropSchema(schema),
      };
    },
  },
];

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_TEST_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}
