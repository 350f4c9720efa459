import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { DataSource } from 'typeorm';
import type { BetterSqlite3Driver } from 'typeorm/driver/better-sqlite3/BetterSqlite3Driver.js';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver.js';
import type pg from 'pg';
import { buildEntities } from './entities.js';
import { StoreConfigError } from './errors.js';
import { MIGRATIONS } from './migrations/index.js';
import type { Dialect, StoreOptions } from './types.js';

export const DEFAULT_SQLITE_PATH = '.mnsim/mnsim.sqlite';
export const MIGRATIONS_TABLE = 'mnsim_migrations';

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * SQLite settings for an embedded engine that writes a lot: WAL lets readers (the CLI, the API)
 * run while a run is being written, and synchronous=NORMAL syncs at checkpoints instead of at
 * every commit, which is still durable against a crash of the process (only an OS crash can lose
 * the last transactions). The raw-rate benchmark applies the same, so the ratio compares like with
 * like.
 */
export function applySqlitePragmas(db: BetterSqlite3.Database): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
}

export interface OpenedDataSource {
  dataSource: DataSource;
  dialect: Dialect;
  /** Postgres schema, if one was given */
  schema: string | null;
  /** SQLite in a file: the file the connection opened (see `SqliteFileIdentity`) */
  sqliteFile: SqliteFileIdentity | null;
}

/**
 * A database file as the connection opened it: its absolute path and its device and inode
 * numbers, stat'ed right after the open. A file at the path with other numbers is another file.
 */
export interface SqliteFileIdentity {
  path: string;
  dev: bigint;
  ino: bigint;
}

/** Builds and initializes the DataSource and brings its schema up to date. */
export async function openDataSource(opts: StoreOptions): Promise<OpenedDataSource> {
  if (opts.url !== undefined && opts.url !== '') {
    if (!/^postgres(ql)?:\/\//.test(opts.url)) {
      throw new StoreConfigError(
        `unsupported database url '${redact(opts.url)}': expected postgres://…`,
      );
    }
    const schema = opts.schema ?? null;
    if (schema !== null && !SCHEMA_NAME.test(schema)) {
      throw new StoreConfigError(
        `invalid Postgres schema name '${schema}': letters, digits and _ only`,
      );
    }
    const dataSource = new DataSource({
      type: 'postgres',
      url: opts.url,
      ...(schema === null ? {} : { schema }),
      applicationName: applicationName(opts.applicationName, schema),
      entities: Object.values(buildEntities('postgres')),
      migrations: MIGRATIONS,
      migrationsTableName: MIGRATIONS_TABLE,
      migrationsRun: false,
      synchronize: false,
      logging: false,
    });
    await initialize(dataSource, opts.url);
    guardPoolClients(dataSource);
    try {
      await migratePostgres(dataSource, schema);
    } catch (err) {
      await dataSource.destroy();
      throw err;
    }
    return { dataSource, dialect: 'postgres', schema, sqliteFile: null };
  }

  const path = opts.sqlitePath ?? DEFAULT_SQLITE_PATH;
  const database = path === ':memory:' ? path : resolve(path);
  if (database !== ':memory:') mkdirSync(dirname(database), { recursive: true });
  const dataSource = new DataSource({
    type: 'better-sqlite3',
    database,
    prepareDatabase: (db: BetterSqlite3.Database) => applySqlitePragmas(db),
    entities: Object.values(buildEntities('sqlite')),
    migrations: MIGRATIONS,
    migrationsTableName: MIGRATIONS_TABLE,
    migrationsRun: false,
    synchronize: false,
    logging: false,
  });
  await initialize(dataSource, database);
  let sqliteFile: SqliteFileIdentity | null = null;
  try {
    if (database !== ':memory:') {
      const { dev, ino } = statSync(database, { bigint: true });
      sqliteFile = { path: database, dev, ino };
    }
    await dataSource.runMigrations({ transaction: 'all' });
  } catch (err) {
    await dataSource.destroy();
    throw err;
  }
  return { dataSource, dialect: 'sqlite', schema: null, sqliteFile };
}

/**
 * The better-sqlite3 `Database` under TypeORM 1.x: `BetterSqlite3Driver.databaseConnection`, set by
 * `DataSource.initialize()` (typed `any` upstream). It is the same single connection TypeORM uses.
 */
export function sqliteHandle(dataSource: DataSource): BetterSqlite3.Database {
  const db = (dataSource.driver as BetterSqlite3Driver).databaseConnection as
    BetterSqlite3.Database | undefined;
  if (!db) throw new Error('mnsim store: the SQLite DataSource is not initialized');
  return db;
}

/**
 * Keeps a connection that Postgres terminates (pg_terminate_backend, a restart, a failover) from
 * crashing the process. A pg client emits 'error' when its connection dies, and an 'error' event
 * with no listener throws. The pool listens while the client is idle and TypeORM's query runner
 * while it holds it, but the runner attaches its listener a few microtasks after the pool hands
 * the client over; a new client gets its first ReadyForQuery and the FATAL that terminates it in
 * one read, and then the FATAL comes in between, with nobody listening. This listener, on every
 * client the pool hands out, is always there. It needs to do nothing: the client is no longer
 * queryable, so the query the runner sends fails (the job that sent it is retried) and the
 * runner's release removes the client from the pool, which opens a new one for the next query.
 */
function guardPoolClients(dataSource: DataSource): void {
  const pool = (dataSource.driver as PostgresDriver).master as pg.Pool;
  const guarded = new WeakSet<pg.PoolClient>();
  pool.on('acquire', (client) => {
    if (guarded.has(client)) return;
    guarded.add(client);
    client.on('error', () => undefined);
  });
}

async function initialize(dataSource: DataSource, where: string): Promise<void> {
  try {
    await dataSource.initialize();
  } catch (err) {
    throw new StoreConfigError(
      `cannot open the database at ${redact(where)}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/**
 * Creates the schema and runs the migrations under a Postgres advisory lock: `npm run cluster`
 * starts every worker at once against one database, and TypeORM's migration runner takes no lock of
 * its own, so without it two processes would race to create the same tables.
 */
async function migratePostgres(dataSource: DataSource, schema: string | null): Promise<void> {
  const lockRunner = dataSource.createQueryRunner();
  await lockRunner.connect();
  const lockKey = `mnsim.migrations.${schema ?? 'default'}`;
  try {
    await lockRunner.query('SELECT pg_advisory_lock(hashtext($1))', [lockKey]);
    try {
      if (schema !== null) await lockRunner.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
      await dataSource.runMigrations({ transaction: 'all' });
    } finally {
      await lockRunner.query('SELECT pg_advisory_unlock(hashtext($1))', [lockKey]);
    }
  } finally {
    await lockRunner.release();
  }
}

/** Postgres keeps the first NAMEDATALEN - 1 bytes of an application_name. */
const APPLICATION_NAME_MAX = 63;

/**
 * The `application_name` of the store's Postgres connections: the service, and the schema when
 * there is one, so that `pg_stat_activity` tells the clusters sharing a database apart.
 */
function applicationName(name: string | undefined, schema: string | null): string {
  const full = schema === null ? (name ?? 'mnsim') : `${name ?? 'mnsim'}/${schema}`;
  return full.slice(0, APPLICATION_NAME_MAX);
}

/** a database url without its password, for error messages */
function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}
