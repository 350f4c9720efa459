import { type MigrationInterface, type QueryRunner, TableIndex } from 'typeorm';

const INDEX = 'IDX_violations_observed';

/**
 * Findings observed in a real kernel log (`mnsim triage --record`) beside the simulated ones.
 * A run and each of its violations carry an `origin`: `simulated` (every row stored before, the
 * columns' default) or `observed`. Observed violations are not a projection of an event log (a
 * real log has no events to re-execute), so `replay --rebuild` leaves them as they are.
 *
 * The signature rollup is unchanged: an observed run has its own labels (the log's name, the
 * release its splats name), and the observed share of a signature is read from the violations
 * themselves through a partial index, which holds only the observed rows (few: one per splat of
 * a real log) whatever the size of the simulated history.
 */
export class ObservedFindings1795910400000 implements MigrationInterface {
  name = 'ObservedFindings1795910400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['runs', 'violations']) {
      await queryRunner.query(
        `ALTER TABLE ${qualified(queryRunner, table)} ADD COLUMN "origin" varchar NOT NULL DEFAULT 'simulated'`,
      );
    }
    await queryRunner.createIndex(
      'violations',
      new TableIndex({ name: INDEX, columnNames: ['signature'], where: `"origin" = 'observed'` }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('violations', INDEX);
    for (const table of ['runs', 'violations']) {
      await queryRunner.query(`ALTER TABLE ${qualified(queryRunner, table)} DROP COLUMN "origin"`);
    }
  }
}

/** A table for raw SQL, in the store's schema on Postgres. */
function qualified(queryRunner: QueryRunner, table: string): string {
  const { schema } = queryRunner.connection.options as { schema?: string };
  return schema ? `"${schema}"."${table}"` : `"${table}"`;
}
