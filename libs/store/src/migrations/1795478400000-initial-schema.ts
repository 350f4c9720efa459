import {
  type MigrationInterface,
  type QueryRunner,
  Table,
  TableCheck,
  TableIndex,
  TableUnique,
} from 'typeorm';
import { ddlColumnTypes } from '../column-types.js';

/**
 * Event types the `events.type` CHECK admits. Frozen here on purpose: a migration must mean the same
 * thing forever. A spec compares it with `EVENT_TYPES` of libs/events, so adding a type there fails
 * until a new migration widens the CHECK.
 */
export const EVENT_TYPES_V1 = [
  'run.start',
  'step',
  'timer',
  'call',
  'return',
  'violation',
  'run.end',
] as const;

const RUN_STATUSES_V1 = ['running', 'completed', 'failed'] as const;

const sqlList = (values: readonly string[]): string => values.map((v) => `'${v}'`).join(', ');

/**
 * runs, events and violations. Written with the QueryRunner Table API so this one file creates the
 * same schema on SQLite and on Postgres; the only differences (JSON and wall-clock column types)
 * come from `ddlColumnTypes`.
 *
 * Virtual time (jiffies) and positions are `integer`; `seed` is `bigint` because scenario seeds may
 * exceed 2^31. No foreign keys: the event log is the source of truth and must be appendable at the
 * raw insert rate; runs and violations are projections of it.
 */
export class InitialSchema1795478400000 implements MigrationInterface {
  name = 'InitialSchema1795478400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const types = ddlColumnTypes(queryRunner);

    await queryRunner.createTable(
      new Table({
        name: 'runs',
        columns: [
          { name: 'run_id', type: 'varchar', isPrimary: true, primaryKeyConstraintName: 'PK_runs' },
          { name: 'scenario', type: 'varchar' },
          { name: 'kernel', type: 'varchar' },
          { name: 'arch', type: 'varchar' },
          { name: 'seed', type: 'bigint' },
          { name: 'status', type: 'varchar', default: "'running'" },
          { name: 'events', type: 'integer', default: 0 },
          { name: 'log_hash', type: 'varchar', isNullable: true },
          { name: 'violations', type: 'integer', default: 0 },
          { name: 'failure_reason', type: 'text', isNullable: true },
          { name: 'created_at', type: types.wallClock },
          { name: 'finished_at', type: types.wallClock, isNullable: true },
          { name: 'source', type: 'text', isNullable: true },
        ],
        checks: [
          new TableCheck({
            name: 'CHK_runs_status',
            expression: `"status" IN (${sqlList(RUN_STATUSES_V1)})`,
          }),
          new TableCheck({
            name: 'CHK_runs_counts',
            expression: `"events" >= 0 AND "violations" >= 0`,
          }),
        ],
        indices: [
          // newest-first listing with keyset paging on (created_at, run_id)
          new TableIndex({ name: 'IDX_runs_created_at', columnNames: ['created_at', 'run_id'] }),
          new TableIndex({ name: 'IDX_runs_scenario', columnNames: ['scenario'] }),
          new TableIndex({ name: 'IDX_runs_kernel_arch', columnNames: ['kernel', 'arch'] }),
        ],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'events',
        columns: [
          {
            name: 'run_id',
            type: 'varchar',
            isPrimary: true,
            primaryKeyConstraintName: 'PK_events',
          },
          { name: 'seq', type: 'integer', isPrimary: true, primaryKeyConstraintName: 'PK_events' },
          { name: 'id', type: 'varchar' },
          { name: 'type', type: 'varchar' },
          { name: 'causation_id', type: 'varchar', isNullable: true },
          { name: 'jiffies', type: 'integer' },
          // the canonical JSON text exactly as the writer encoded it: the log hash is over these bytes
          { name: 'payload', type: 'text' },
          { name: 'recorded_at', type: types.wallClock },
        ],
        uniques: [new TableUnique({ name: 'UQ_events_run_id_id', columnNames: ['run_id', 'id'] })],
        checks: [
          new TableCheck({
            name: 'CHK_events_type',
            expression: `"type" IN (${sqlList(EVENT_TYPES_V1)})`,
          }),
          new TableCheck({
            name: 'CHK_events_position',
            expression: `"seq" >= 0 AND "jiffies" >= 0`,
          }),
        ],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'violations',
        columns: [
          {
            name: 'run_id',
            type: 'varchar',
            isPrimary: true,
            primaryKeyConstraintName: 'PK_violations',
          },
          {
            name: 'seq',
            type: 'integer',
            isPrimary: true,
            primaryKeyConstraintName: 'PK_violations',
          },
          { name: 'event_id', type: 'varchar' },
          { name: 'jiffies', type: 'integer' },
          { name: 'site', type: 'varchar' },
          { name: 'in_atomic', type: 'integer' },
          { name: 'irqs_disabled', type: 'integer' },
          { name: 'non_block', type: 'integer' },
          { name: 'pid', type: 'integer' },
          { name: 'comm', type: 'varchar' },
          { name: 'reported', type: 'boolean' },
          { name: 'signature', type: 'varchar' },
          { name: 'stack', type: types.json },
          { name: 'text', type: 'text' },
          // denormalized from the run, so the dashboard filters never join
          { name: 'scenario', type: 'varchar' },
          { name: 'kernel', type: 'varchar' },
          { name: 'arch', type: 'varchar' },
          { name: 'recorded_at', type: types.wallClock },
        ],
        indices: [
          new TableIndex({ name: 'IDX_violations_signature', columnNames: ['signature'] }),
          new TableIndex({ name: 'IDX_violations_arch_kernel', columnNames: ['arch', 'kernel'] }),
          new TableIndex({ name: 'IDX_violations_scenario', columnNames: ['scenario'] }),
          new TableIndex({ name: 'IDX_violations_comm', columnNames: ['comm'] }),
          // newest-first keyset paging orders by (recorded_at, run_id, seq); `since` filters on it.
          // Filtering by run uses the primary key (run_id, seq): a separate run_id index would
          // only slow down inserts.
          new TableIndex({
            name: 'IDX_violations_recorded_at',
            columnNames: ['recorded_at', 'run_id', 'seq'],
          }),
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('violations');
    await queryRunner.dropTable('events');
    await queryRunner.dropTable('runs');
  }
}
