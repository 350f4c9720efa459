import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Findings of more than one kind: every violation gets a `kind`. The violations stored before
 * were all failed ___might_sleep checks, so the column's default names them `atomic-sleep`. A
 * signature tells its kind (the kernel lib's signatureKind), so the signature rollup is
 * unchanged.
 */
export class FindingKinds1795824000000 implements MigrationInterface {
  name = 'FindingKinds1795824000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE ${violations(queryRunner)} ADD COLUMN "kind" varchar NOT NULL DEFAULT 'atomic-sleep'`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE ${violations(queryRunner)} DROP COLUMN "kind"`);
  }
}

/** The violations table for raw SQL, in the store's schema on Postgres. */
function violations(queryRunner: QueryRunner): string {
  const { schema } = queryRunner.connection.options as { schema?: string };
  return schema ? `"${schema}"."violations"` : '"violations"';
}
