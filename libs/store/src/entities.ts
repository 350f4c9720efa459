import { EntitySchema } from 'typeorm';
import type { Violation } from '@mnsim/events';
import { columnTypes } from './column-types.js';
import type { Dialect } from './types.js';

/*
 * TypeORM entities for the three tables (and the signature rollup, read only). They are EntitySchemas built per dialect rather than
 * decorated classes because two column types differ between SQLite and Postgres (see
 * column-types.ts) and a decorator cannot know at import time which database the process will open
 * (both are open at once in the tests). The migrations own the DDL (`synchronize: false`); these
 * only map columns to properties and hydrate values.
 */

export interface RunRecord {
  runId: string;
  scenario: string;
  kernel: string;
  arch: string;
  /** bigint: a string from pg, a number from SQLite */
  seed: number | string;
  status: string;
  events: number;
  logHash: string | null;
  violations: number;
  failureReason: string | null;
  /** Date from pg (timestamptz), ISO text from SQLite */
  createdAt: Date | string;
  finishedAt: Date | string | null;
  source: string | null;
  /** `simulated` or `observed` (see ORIGINS) */
  origin: string;
}

/** An events row: its envelope, and in `payload` its format 2 body. */
export interface EventRecord {
  runId: string;
  seq: number;
  id: string;
  type: string;
  causationId: string | null;
  jiffies: number;
  payload: string;
  recordedAt: Date | string;
}

/** A definition of a run's format 2 log (see libs/events' stored-log.ts). */
export interface LogDefEntity {
  runId: string;
  id: number;
  /** the seq of the event that first uses it */
  firstSeq: number;
  kind: string;
  /** canonical JSON */
  value: string;
}

/** A violations row: the violation as the log records it, with its run's labels. */
export interface ViolationRecord extends Violation {
  runId: string;
  /** `simulated` or `observed`; the batch writers leave it to the column's default */
  origin?: string;
  eventId: string;
  scenario: string;
  kernel: string;
  arch: string;
  recordedAt: Date | string;
}

/** One row of signature_rollup: maintained by a trigger on violations, never written by the store. */
export interface SignatureRollupRecord {
  signature: string;
  scenario: string;
  kernel: string;
  arch: string;
  count: number;
  runs: number;
  firstSeen: Date | string;
  lastSeen: Date | string;
}

export const RUNS = 'runs';
export const EVENTS = 'events';
export const LOG_DEFS = 'log_defs';
export const VIOLATIONS = 'violations';

export interface StoreEntities {
  runs: EntitySchema<RunRecord>;
  events: EntitySchema<EventRecord>;
  logDefs: EntitySchema<LogDefEntity>;
  violations: EntitySchema<ViolationRecord>;
  signatureRollup: EntitySchema<SignatureRollupRecord>;
}

export function buildEntities(dialect: Dialect): StoreEntities {
  const types = columnTypes(dialect);
  const runs = new EntitySchema<RunRecord>({
    name: RUNS,
    tableName: RUNS,
    columns: {
      runId: { name: 'run_id', type: 'varchar', primary: true },
      scenario: { type: 'varchar' },
      kernel: { type: 'varchar' },
      arch: { type: 'varchar' },
      seed: { type: 'bigint' },
      status: { type: 'varchar' },
      events: { type: 'integer' },
      logHash: { name: 'log_hash', type: 'varchar', nullable: true },
      violations: { type: 'integer' },
      failureReason: { name: 'failure_reason', type: 'text', nullable: true },
      createdAt: { name: 'created_at', type: types.wallClock },
      finishedAt: { name: 'finished_at', type: types.wallClock, nullable: true },
      source: { type: 'text', nullable: true },
      origin: { type: 'varchar', default: 'simulated' },
    },
  });
  const events = new EntitySchema<EventRecord>({
    name: EVENTS,
    tableName: EVENTS,
    columns: {
      runId: { name: 'run_id', type: 'varchar', primary: true },
      seq: { type: 'integer', primary: true },
      id: { type: 'varchar' },
      type: { type: 'varchar' },
      causationId: { name: 'causation_id', type: 'varchar', nullable: true },
      jiffies: { type: 'integer' },
      // the body of the event's format 2 line (its refs are to the run's log_defs)
      payload: { type: 'text' },
      recordedAt: { name: 'recorded_at', type: types.wallClock },
    },
  });
  const logDefs = new EntitySchema<LogDefEntity>({
    name: LOG_DEFS,
    tableName: LOG_DEFS,
    columns: {
      runId: { name: 'run_id', type: 'varchar', primary: true },
      id: { type: 'integer', primary: true },
      firstSeq: { name: 'first_seq', type: 'integer' },
      kind: { type: 'varchar' },
      value: { type: 'text' },
    },
  });
  const violations = new EntitySchema<ViolationRecord>({
    name: VIOLATIONS,
    tableName: VIOLATIONS,
    columns: {
      runId: { name: 'run_id', type: 'varchar', primary: true },
      seq: { type: 'integer', primary: true },
      kind: { type: 'varchar' },
      eventId: { name: 'event_id', type: 'varchar' },
      jiffies: { type: 'integer' },
      site: { type: 'varchar' },
      inAtomic: { name: 'in_atomic', type: 'integer' },
      irqsDisabled: { name: 'irqs_disabled', type: 'integer' },
      nonBlock: { name: 'non_block', type: 'integer' },
      pid: { type: 'integer' },
      comm: { type: 'varchar' },
      reported: { type: 'boolean' },
      signature: { type: 'varchar' },
      stack: { type: types.json },
      text: { type: 'text' },
      scenario: { type: 'varchar' },
      kernel: { type: 'varchar' },
      arch: { type: 'varchar' },
      recordedAt: { name: 'recorded_at', type: types.wallClock },
      origin: { type: 'varchar', default: 'simulated' },
    },
  });
  const signatureRollup = new EntitySchema<SignatureRollupRecord>({
    name: 'signature_rollup',
    tableName: 'signature_rollup',
    columns: {
      signature: { type: 'varchar', primary: true },
      scenario: { type: 'varchar', primary: true },
      kernel: { type: 'varchar', primary: true },
      arch: { type: 'varchar', primary: true },
      count: { type: 'integer' },
      runs: { type: 'integer' },
      firstSeen: { name: 'first_seen', type: types.wallClock },
      lastSeen: { name: 'last_seen', type: types.wallClock },
    },
  });
  return { runs, events, logDefs, violations, signatureRollup };
}
