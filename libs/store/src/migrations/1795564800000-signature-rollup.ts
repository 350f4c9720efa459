import { type MigrationInterface, type QueryRunner, Table } from 'typeorm';
import { ddlColumnTypes, dialectOf } from '../column-types.js';

/*
 * signature_rollup: `violations` pre-aggregated by (signature, scenario, kernel, arch), which is what
 * `groupBySignature` answers from when filtering by arch/kernel/scenario only. signature_runs holds
 * every (signature, run_id) seen, so `runs` grows only for the first violation of a signature in a
 * run. Both are maintained by a trigger on `violations`, so every writer (the SQLite sink's prepared
 * statements, the Postgres multi-row inserts, appendEvents) keeps them exact without knowing they
 * exist; an INSERT … ON CONFLICT DO NOTHING that skips a row fires nothing for it, so idempotent
 * re-writes do not count twice.
 *
 * Invariant relied on: all violations of a run carry that run's scenario/kernel/arch (they are
 * denormalized from the run). A (signature, run) is counted in `runs` of the key it was first seen
 * under.
 *
 * SQLite: a FOR EACH ROW trigger (the only kind SQLite has; one writer, so no lock-order concerns).
 * Postgres: a FOR EACH STATEMENT trigger over the transition table of the rows actually inserted.
 * A row-level trigger would upsert the rollup rows in the order of the batch, so two workers
 * writing batches of the same labels with signatures in different orders lock the same rollup rows
 * in opposite orders and deadlock; the statement trigger upserts each key once, in key order. It is
 * also one upsert per key and statement instead of one per row.
 */

export const ROLLUP_TABLE = 'signature_rollup';
export const SIGNATURE_RUNS_TABLE = 'signature_runs';
const TRIGGER = 'violations_signature_rollup';

export class SignatureRollup1795564800000 implements MigrationInterface {
  name = 'SignatureRollup1795564800000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const types = ddlColumnTypes(queryRunner);
    await queryRunner.createTable(
      new Table({
        name: ROLLUP_TABLE,
        columns: [
          ...['signature', 'scenario', 'kernel', 'arch'].map((name) => ({
            name,
            type: 'varchar',
            isPrimary: true,
            primaryKeyConstraintName: 'PK_signature_rollup',
          })),
          { name: 'count', type: 'integer' },
          { name: 'runs', type: 'integer' },
          { name: 'first_seen', type: types.wallClock },
          { name: 'last_seen', type: types.wallClock },
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: SIGNATURE_RUNS_TABLE,
        columns: ['signature', 'run_id'].map((name) => ({
          name,
          type: 'varchar',
          isPrimary: true,
          primaryKeyConstraintName: 'PK_signature_runs',
        })),
      }),
    );

    const t = await tableNames(queryRunner);
    await backfill(queryRunner, t, null);

    if (dialectOf(queryRunner.connection) === 'postgres') {
      await queryRunner.query(`
        CREATE FUNCTION ${t.fn}() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
          WITH new_runs AS (
            INSERT INTO ${t.runs} AS sr ("signature", "run_id")
            SELECT DISTINCT "signature", "run_id" FROM inserted ORDER BY 1, 2
            ON CONFLICT DO NOTHING
            RETURNING sr."signature", sr."run_id"
          ), first_key AS (
            SELECT DISTINCT ON ("signature", "run_id") "signature", "run_id", "scenario", "kernel", "arch"
            FROM inserted ORDER BY "signature", "run_id", "seq"
          ), run_counts AS (
            SELECT f."signature", f."scenario", f."kernel", f."arch", COUNT(*) AS "runs"
            FROM first_key f JOIN new_runs n USING ("signature", "run_id")
            GROUP BY 1, 2, 3, 4
          ), added AS (
            SELECT "signature", "scenario", "kernel", "arch", COUNT(*) AS "count",
                   MIN("recorded_at") AS "first_seen", MAX("recorded_at") AS "last_seen"
            FROM inserted GROUP BY 1, 2, 3, 4
          )
          INSERT INTO ${t.rollup} AS r
            ("signature", "scenario", "kernel", "arch", "count", "runs", "first_seen", "last_seen")
          SELECT a."signature", a."scenario", a."kernel", a."arch", a."count", COALESCE(c."runs", 0),
                 a."first_seen", a."last_seen"
          FROM added a LEFT JOIN run_counts c USING ("signature", "scenario", "kernel", "arch")
          ORDER BY 1, 2, 3, 4
          ON CONFLICT ("signature", "scenario", "kernel", "arch") DO UPDATE SET
            "count" = r."count" + EXCLUDED."count",
            "runs" = r."runs" + EXCLUDED."runs",
            "first_seen" = LEAST(r."first_seen", EXCLUDED."first_seen"),
            "last_seen" = GREATEST(r."last_seen", EXCLUDED."last_seen");
          RETURN NULL;
        END
        $fn$`);
      await queryRunner.query(
        `CREATE TRIGGER "${TRIGGER}" AFTER INSERT ON ${t.violations} ` +
          `REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION ${t.fn}()`,
      );
    } else {
      await queryRunner.query(`
        CREATE TRIGGER "${TRIGGER}" AFTER INSERT ON "violations" FOR EACH ROW
        BEGIN
          INSERT INTO "signature_rollup"
            ("signature", "scenario", "kernel", "arch", "count", "runs", "first_seen", "last_seen")
          VALUES (NEW."signature", NEW."scenario", NEW."kernel", NEW."arch", 1,
                  NOT EXISTS (SELECT 1 FROM "signature_runs"
                              WHERE "signature" = NEW."signature" AND "run_id" = NEW."run_id"),
                  NEW."recorded_at", NEW."recorded_at")
          ON CONFLICT ("signature", "scenario", "kernel", "arch") DO UPDATE SET
            "count" = "count" + 1,
            "runs" = "runs" + excluded."runs",
            "first_seen" = min("first_seen", excluded."first_seen"),
            "last_seen" = max("last_seen", excluded."last_seen");
          INSERT INTO "signature_runs" ("signature", "run_id") VALUES (NEW."signature", NEW."run_id")
          ON CONFLICT DO NOTHING;
        END`);
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const t = await tableNames(queryRunner);
    if (dialectOf(queryRunner.connection) === 'postgres') {
      await queryRunner.query(`DROP TRIGGER IF EXISTS "${TRIGGER}" ON ${t.violations}`);
      await queryRunner.query(`DROP FUNCTION IF EXISTS ${t.fn}()`);
    } else {
      await queryRunner.query(`DROP TRIGGER IF EXISTS "${TRIGGER}"`);
    }
    await queryRunner.dropTable(SIGNATURE_RUNS_TABLE);
    await queryRunner.dropTable(ROLLUP_TABLE);
  }
}

export interface RollupTableNames {
  violations: string;
  rollup: string;
  runs: string;
  fn: string;
}

/**
 * Quoted, schema-qualified names. The Postgres trigger function names its tables with the schema
 * they were created in: it runs under the search_path of whoever inserts, which need not include
 * the store's schema (TypeORM qualifies names rather than setting search_path).
 */
async function tableNames(queryRunner: QueryRunner): Promise<RollupTableNames> {
  if (dialectOf(queryRunner.connection) !== 'postgres') {
    return {
      violations: '"violations"',
      rollup: `"${ROLLUP_TABLE}"`,
      runs: `"${SIGNATURE_RUNS_TABLE}"`,
      fn: '',
    };
  }
  let schema = (queryRunner.connection.options as { schema?: string }).schema;
  if (schema === undefined) {
    const rows = (await queryRunner.query('SELECT current_schema() AS schema')) as {
      schema: string;
    }[];
    schema = rows[0].schema;
  }
  return qualifiedNames(schema);
}

export function qualifiedNames(schema: string | null): RollupTableNames {
  const q = (name: string): string => (schema === null ? `"${name}"` : `"${schema}"."${name}"`);
  return {
    violations: q('violations'),
    rollup: q(ROLLUP_TABLE),
    runs: q(SIGNATURE_RUNS_TABLE),
    fn: q(TRIGGER),
  };
}

/**
 * Fills signature_runs and signature_rollup from `violations` (all of it, or only the given
 * signatures). The rows being rebuilt must have been deleted first. Shared by the migration and by
 * `deleteViolations`, so the rebuild and the trigger cannot drift apart.
 *
 * `runs` per key is COUNT(DISTINCT run_id), which equals what the trigger counts as long as a run's
 * violations all carry the run's labels.
 */
export async function backfill(
  queryRunner: Pick<QueryRunner, 'query'>,
  t: RollupTableNames,
  signatures: { placeholder: string; params: unknown[] } | null,
): Promise<void> {
  const where = signatures === null ? '' : `WHERE "signature" IN (${signatures.placeholder})`;
  const params = signatures?.params ?? [];
  await queryRunner.query(
    `INSERT INTO ${t.runs} ("signature", "run_id") ` +
      `SELECT DISTINCT "signature", "run_id" FROM ${t.violations} ${where}`,
    params,
  );
  await queryRunner.query(
    `INSERT INTO ${t.rollup} ` +
      `("signature", "scenario", "kernel", "arch", "count", "runs", "first_seen", "last_seen") ` +
      `SELECT "signature", "scenario", "kernel", "arch", COUNT(*), COUNT(DISTINCT "run_id"), ` +
      `MIN("recorded_at"), MAX("recorded_at") FROM ${t.violations} ${where} ` +
      `GROUP BY "signature", "scenario", "kernel", "arch"`,
    params,
  );
}
