import type { ColumnType, DataSource, QueryRunner } from 'typeorm';
import type { Dialect } from './types.js';

/**
 * The only place that knows how a column type differs between SQLite and Postgres; the migrations
 * and the entity schemas both ask here, so the two cannot disagree.
 */
export interface DialectColumnTypes {
  /** JSON documents: `jsonb` on Postgres; SQLite has no JSON type, TypeORM's `simple-json` is text */
  json: ColumnType;
  /**
   * Wall clock (metadata only, UTC): `timestamptz` on Postgres; on SQLite ISO 8601 text with
   * millisecond precision ('2026-11-24T10:00:00.000Z'), which sorts and compares as time does.
   */
  wallClock: ColumnType;
}

export function columnTypes(dialect: Dialect): DialectColumnTypes {
  return dialect === 'postgres'
    ? { json: 'jsonb', wallClock: 'timestamptz' }
    : { json: 'simple-json', wallClock: 'varchar' };
}

export function dialectOf(dataSource: DataSource): Dialect {
  const type = dataSource.options.type;
  if (type === 'postgres') return 'postgres';
  if (type === 'better-sqlite3') return 'sqlite';
  throw new Error(`mnsim store: unsupported database type '${type}'`);
}

/**
 * The same types as database type names, for the migrations' Table API (which takes DDL types, so
 * `simple-json` must become `text`): normalized by the open connection's driver.
 */
export function ddlColumnTypes(queryRunner: QueryRunner): Record<keyof DialectColumnTypes, string> {
  const { driver } = queryRunner.connection;
  const types = columnTypes(dialectOf(queryRunner.connection));
  return {
    json: driver.normalizeType({ type: types.json }),
    wallClock: driver.normalizeType({ type: types.wallClock }),
  };
}
