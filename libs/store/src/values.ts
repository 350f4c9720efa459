import { InvalidStoreInputError } from './errors.js';

/*
 * Conversions between what the drivers return and the store's API. pg returns bigint and count(*)
 * as strings and timestamptz as Date; better-sqlite3 returns numbers, 0/1 for booleans and text
 * for simple-json and wall-clock columns.
 */

const ISO_MILLIS_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/**
 * Wall clock as stored: ISO 8601 UTC with exactly millisecond precision on both dialects, so that
 * text order is time order on SQLite and keyset cursors round-trip exactly on Postgres.
 */
export function wallClock(value: string | Date): string {
  if (typeof value === 'string' && ISO_MILLIS_UTC.test(value)) return value;
  const date = typeof value === 'string' ? new Date(value) : value;
  if (Number.isNaN(date.getTime())) {
    throw new InvalidStoreInputError(`invalid timestamp '${String(value)}': expected ISO 8601`);
  }
  return date.toISOString();
}

export function isoFromDb(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'string') return value;
  throw new Error(`mnsim store: unexpected timestamp value ${String(value)}`);
}

export function intFromDb(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint' || typeof value === 'string') return Number(value);
  throw new Error(`mnsim store: unexpected integer value ${String(value)}`);
}

export function boolFromDb(value: unknown): boolean {
  return value === true || value === 1 || value === '1';
}

export function stringArrayFromDb(value: unknown): string[] {
  const parsed: unknown = typeof value === 'string' ? JSON.parse(value) : value;
  if (!Array.isArray(parsed)) throw new Error('mnsim store: expected a JSON array');
  return parsed.map(String);
}

export function positiveInt(name: string, value: number, max?: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InvalidStoreInputError(`${name} must be a positive integer, got ${value}`);
  }
  return max === undefined ? value : Math.min(value, max);
}

/**
 * Keyset cursors: the sort key of the last row of a page, opaque to callers (base64url JSON).
 * Keyset rather than OFFSET so a page costs the same at any depth and rows inserted meanwhile
 * neither repeat nor vanish.
 */
export function encodeCursor(key: (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

export function decodeCursor<T extends ('string' | 'number')[]>(
  cursor: string,
  shape: T,
): { [K in keyof T]: T[K] extends 'number' ? number : string } {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    key = undefined;
  }
  if (
    !Array.isArray(key) ||
    key.length !== shape.length ||
    key.some((part, i) => typeof part !== shape[i])
  ) {
    throw new InvalidStoreInputError(`invalid cursor '${cursor}'`);
  }
  return key as { [K in keyof T]: T[K] extends 'number' ? number : string };
}
