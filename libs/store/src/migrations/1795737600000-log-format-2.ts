import { type MigrationInterface, type QueryRunner, Table, TableIndex, TableUnique } from 'typeorm';
import {
  type CanonicalEvent,
  type DefKind,
  type EventType,
  LogExpander,
  LogInterner,
  bodyOfEventLine,
  canonicalJson,
  parseDefLine,
} from '@mnsim/events';
import { dialectOf } from '../column-types.js';

/*
 * The events table holds each run's log in format 2 (libs/events' interned-log.ts): an event's row
 * keeps the body of its line in `payload`, and the run's definitions are rows of `log_defs`, each
 * with the seq of the event that first uses it. Format 1 rows held the whole payload, its execution
 * context repeated on every event (~700 bytes a row, against ~100).
 *
 * `up` converts every run already stored: its events interned in seq order, as the writers intern
 * them from now on; `down` expands them back. Both go run by run, a page of events at a time. The
 * unique index on (run_id, id) goes: see up().
 */

const TABLE = 'log_defs';
const UNIQUE_IDS = 'UQ_events_run_id_id';
const PAGE = 2000;

interface Row {
  seq: number;
  id: string;
  type: EventType;
  causationId: string | null;
  jiffies: number;
  payload: string;
}

export class LogFormat21795737600000 implements MigrationInterface {
  name = 'LogFormat21795737600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: TABLE,
        columns: [
          {
            name: 'run_id',
            type: 'varchar',
            isPrimary: true,
            primaryKeyConstraintName: 'PK_log_defs',
          },
          { name: 'id', type: 'integer', isPrimary: true, primaryKeyConstraintName: 'PK_log_defs' },
          { name: 'first_seq', type: 'integer' },
          { name: 'kind', type: 'varchar' },
          { name: 'value', type: 'text' },
        ],
        indices: [
          // a page of a run's log with its definitions (iterateLog)
          new TableIndex({ name: 'IDX_log_defs_first_seq', columnNames: ['run_id', 'first_seq'] }),
        ],
      }),
    );
    const sql = statements(queryRunner);
    for (const runId of await runIds(queryRunner)) {
      const interner = new LogInterner();
      const lines: string[] = [];
      for await (const rows of pages(queryRunner, runId)) {
        const bodies: Array<[number, string]> = [];
        for (const r of rows) {
          interner.pushEncoded(r, r.payload, lines);
          for (const line of lines.slice(0, -1)) {
            const d = parseDefLine(line);
            await queryRunner.query(sql.insertDef, [runId, d.id, r.seq, d.kind, d.value]);
          }
          bodies.push([r.seq, bodyOfEventLine(r, lines[lines.length - 1])]);
          lines.length = 0;
        }
        for (const [seq, body] of bodies)
          await queryRunner.query(sql.setPayload, [body, runId, seq]);
      }
    }
    // ~40 bytes an event in Postgres for what (run_id, seq) and the writers already ensure: ids
    // are derived from causation, and the auditor checks them unique before it vouches for a log
    await queryRunner.dropUniqueConstraint('events', UNIQUE_IDS);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createUniqueConstraint(
      'events',
      new TableUnique({ name: UNIQUE_IDS, columnNames: ['run_id', 'id'] }),
    );
    const sql = statements(queryRunner);
    for (const runId of await runIds(queryRunner)) {
      const expander = new LogExpander({ verify: false });
      const defs = (await queryRunner.query(
        `SELECT "id", "kind", "value" FROM ${sql.defs} WHERE "run_id" = ${sql.p(1)} ORDER BY "id"`,
        [runId],
      )) as Array<{ id: number; kind: string; value: string }>;
      for (const d of defs) {
        expander.define({ id: Number(d.id), kind: d.kind as DefKind, value: d.value });
      }
      for await (const rows of pages(queryRunner, runId)) {
        for (const r of rows) {
          const e: CanonicalEvent = expander.expandBody(r, r.payload);
          await queryRunner.query(sql.setPayload, [canonicalJson(e.payload), runId, r.seq]);
        }
      }
    }
    await queryRunner.dropTable(TABLE);
  }
}

/** The SQL of both directions, in the store's schema on Postgres (raw SQL is not qualified for us). */
function statements(queryRunner: QueryRunner) {
  const pg = dialectOf(queryRunner.connection) === 'postgres';
  const p = (n: number): string => (pg ? `$${n}` : '?');
  const { schema } = queryRunner.connection.options as { schema?: string };
  const q = (name: string): string => (schema ? `"${schema}"."${name}"` : `"${name}"`);
  return {
    p,
    defs: q(TABLE),
    events: q('events'),
    insertDef:
      `INSERT INTO ${q(TABLE)} ("run_id", "id", "first_seq", "kind", "value") ` +
      `VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)})`,
    setPayload: `UPDATE ${q('events')} SET "payload" = ${p(1)} WHERE "run_id" = ${p(2)} AND "seq" = ${p(3)}`,
  };
}

async function runIds(queryRunner: QueryRunner): Promise<string[]> {
  const { events } = statements(queryRunner);
  const rows = (await queryRunner.query(
    `SELECT DISTINCT "run_id" AS "runId" FROM ${events} ORDER BY "run_id"`,
  )) as Array<{ runId: string }>;
  return rows.map((r) => r.runId);
}

/** A run's events in seq order, a page at a time. */
async function* pages(queryRunner: QueryRunner, runId: string): AsyncGenerator<Row[]> {
  const { p, events } = statements(queryRunner);
  let after = -1;
  while (true) {
    const rows = (await queryRunner.query(
      'SELECT "seq", "id", "type", "causation_id" AS "causationId", "jiffies", "payload" ' +
        `FROM ${events} WHERE "run_id" = ${p(1)} AND "seq" > ${p(2)} ORDER BY "seq" LIMIT ${PAGE}`,
      [runId, after],
    )) as Row[];
    if (rows.length === 0) return;
    yield rows.map((r) => ({ ...r, seq: Number(r.seq), jiffies: Number(r.jiffies) }));
    if (rows.length < PAGE) return;
    after = Number(rows[rows.length - 1].seq);
  }
}
