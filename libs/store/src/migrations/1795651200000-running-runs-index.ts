import { type MigrationInterface, type QueryRunner, TableIndex } from 'typeorm';

const INDEX = 'IDX_runs_running';

/**
 * The runs still `running`, by start time: a partial index, so that the sweep of runs left
 * running by a process that is gone (`failStaleRuns`, every few seconds from each api and
 * auditor) reads only those runs instead of the whole history of finished ones. Both dialects
 * take the same partial index; a query uses it when its WHERE says `"status" = 'running'` as a
 * literal.
 */
export class RunningRunsIndex1795651200000 implements MigrationInterface {
  name = 'RunningRunsIndex1795651200000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createIndex(
      'runs',
      new TableIndex({ name: INDEX, columnNames: ['created_at'], where: `"status" = 'running'` }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('runs', INDEX);
  }
}
