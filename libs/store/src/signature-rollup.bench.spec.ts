import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Violation } from '@mnsim/events';
import { openDataSource } from './data-source.js';
import { openStore, type EventToAppend, type Store } from './index.js';
import { dropSchema, PG_TEST_URL } from './test-dialects.js';
import { TestLogs } from './test-events.js';

/*
 * Measurements for the signature rollup, not run by default (minutes, and 1M rows in Postgres):
 *   MNSIM_ROLLUP_BENCH=1 npx vitest run libs/store/src/signature-rollup.bench.spec.ts
 */
const BENCH = process.env.MNSIM_ROLLUP_BENCH === '1';
const VIOLATIONS = Number(process.env.MNSIM_ROLLUP_BENCH_ROWS ?? 1_000_000);

const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

async function timeIt(times: number, task: () => Promise<unknown>): Promise<string> {
  const ms: number[] = [];
  for (let i = 0; i < 3; i++) await task(); // warm-up: pool connections, plans
  for (let i = 0; i < times; i++) {
    const start = performance.now();
    await task();
    ms.push(performance.now() - start);
  }
  ms.sort((a, b) => a - b);
  return `p50 ${percentile(ms, 50).toFixed(2)} ms, p95 ${percentile(ms, 95).toFixed(2)} ms`;
}

describe.runIf(BENCH)('signature rollup benchmark', () => {
  it(`groupBySignature on ${VIOLATIONS} violations in Postgres`, async () => {
    const schema = `mnsim_bench_${randomBytes(4).toString('hex')}`;
    const store = await openStore({ url: PG_TEST_URL, schema });
    const { dataSource } = await openDataSource({ url: PG_TEST_URL, schema });
    try {
      // 1,000 runs; labels are a function of the run; 200 signatures; through the table, so the
      // trigger fires (one statement of VIOLATIONS rows)
      const fillStart = performance.now();
      await dataSource.query(`
        INSERT INTO "${schema}"."violations"
        SELECT 'run-' || (g % 1000), g / 1000, 'run.' || g, g, 'mm/x.c:1', 1, 0, 1, 36,
               (ARRAY['oom_reaper','qemu','kworker'])[1 + g % 3], false,
               'BUG: sleeping function called from invalid context in fn_' || (((g / 1000) * 7919 + g / 7) % 200),
               '["a","b"]'::jsonb, 'text',
               'scenario-' || ((g % 1000) % 10),
               (ARRAY['5.8','5.10','5.15','6.1'])[1 + (g % 1000) % 4],
               (ARRAY['arm64','x86'])[1 + ((g % 1000) / 4) % 2],
               timestamptz '2026-11-24T10:00:00Z' + g * interval '1 ms'
        FROM generate_series(0, ${VIOLATIONS - 1}) AS g`);
      const fillMs = performance.now() - fillStart;
      await dataSource.query(`ANALYZE "${schema}"."violations"`);
      await dataSource.query(`ANALYZE "${schema}"."signature_rollup"`);
      const [{ keys }] = await dataSource.query<{ keys: number }[]>(
        `SELECT COUNT(*)::int AS keys FROM "${schema}"."signature_rollup"`,
      );

      // the rollup answers what the raw GROUP BY answers (since 1970 forces the raw query)
      const raw = await store.groupBySignature({ since: new Date(0) });
      expect(await store.groupBySignature({})).toEqual(raw);
      const filter = { arch: 'arm64', kernel: '5.8' };
      expect(await store.groupBySignature(filter)).toEqual(
        await store.groupBySignature({ ...filter, since: new Date(0) }),
      );

      const all = await timeIt(50, () => store.groupBySignature({}));
      const filtered = await timeIt(50, () => store.groupBySignature(filter));
      const rawAll = await timeIt(5, () => store.groupBySignature({ since: new Date(0) }));

      const undo = performance.now();
      await dataSource.undoLastMigration({ transaction: 'all' });
      const undoMs = performance.now() - undo;
      const migrate = performance.now();
      await dataSource.runMigrations({ transaction: 'all' });
      const backfillMs = performance.now() - migrate;
      expect(await store.groupBySignature({})).toEqual(raw);

      console.log(
        [
          `postgres, ${VIOLATIONS} violations, ${keys} rollup rows`,
          `  fill through the trigger: ${fillMs.toFixed(0)} ms`,
          `  groupBySignature({}) x50: ${all}`,
          `  groupBySignature({arch:'arm64',kernel:'5.8'}) x50: ${filtered}`,
          `  raw GROUP BY (since: 1970) x5: ${rawAll}`,
          `  migration down ${undoMs.toFixed(0)} ms, up with backfill ${backfillMs.toFixed(0)} ms`,
        ].join('\n'),
      );
    } finally {
      await store.close();
      await dataSource.destroy();
      await dropSchema(schema);
    }
  }, 1_200_000);

  it('SQLite sink rate with and without the trigger', async () => {
    const EVENTS = 200_000;
    const runId = 'bench';
    const meta = { scenario: 's', kernel: '5.8', arch: 'arm64' };
    const logs = new TestLogs();
    const events: { e: EventToAppend; v: Violation | null }[] = [];
    for (let seq = 0; seq < EVENTS; seq++) {
      const isViolation = seq % 20 === 19;
      const payload = { seq, fn: 'kvm_unmap_hva_range', pad: 'x'.repeat(120) };
      const signature = `BUG: sleeping function called from invalid context in fn_${seq % 23}`;
      events.push({
        e: logs.toAppend({
          runId,
          id: `run.${seq}`,
          seq,
          type: isViolation ? 'violation' : 'call',
          causationId: seq === 0 ? null : `run.${seq - 1}`,
          jiffies: seq,
          payload,
          recordedAt: new Date(Date.parse('2026-11-24T10:00:00Z') + seq).toISOString(),
        }),
        v: isViolation
          ? {
              seq,
              kind: 'atomic-sleep' as const,
              jiffies: seq,
              site: 'mm/x.c:1',
              inAtomic: 1,
              irqsDisabled: 0,
              nonBlock: 1,
              pid: 36,
              comm: 'oom_reaper',
              reported: false,
              signature,
              stack: ['___might_sleep', `fn_${seq % 23}`, 'ret_from_fork'],
              text: signature,
            }
          : null,
      });
    }

    const once = async (trigger: boolean): Promise<number> => {
      const dir = mkdtempSync(join(tmpdir(), 'mnsim-rollup-bench-'));
      const sqlitePath = join(dir, 'bench.sqlite');
      try {
        if (!trigger) {
          const { dataSource } = await openDataSource({ sqlitePath });
          await dataSource.query('DROP TRIGGER "violations_signature_rollup"');
          await dataSource.destroy();
        }
        const store: Store = await openStore({ sqlitePath });
        try {
          const start = performance.now();
          const sink = store.createEventSink(runId, meta);
          for (const { e, v } of events) {
            sink.append(e.event, e.lines);
            if (v) sink.appendViolation(e.event.id, v);
          }
          await sink.flush();
          const seconds = (performance.now() - start) / 1000;
          const groups = await store.groupBySignature({});
          expect(groups.reduce((n, g) => n + g.count, 0)).toBe(trigger ? EVENTS / 20 : 0);
          return (EVENTS + EVENTS / 20) / seconds;
        } finally {
          await store.close();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };

    const rates: Record<'with' | 'without', number[]> = { with: [], without: [] };
    for (let i = 0; i < 5; i++) {
      rates.without.push(await once(false));
      rates.with.push(await once(true));
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    const w = median(rates.with);
    const wo = median(rates.without);
    console.log(
      [
        `sqlite sink, ${EVENTS} events + ${EVENTS / 20} violations, median of 5 (rows/s):`,
        `  without trigger ${wo.toFixed(0)}, with trigger ${w.toFixed(0)} (${((1 - w / wo) * 100).toFixed(1)}% slower)`,
        `  runs without: ${rates.without.map((r) => r.toFixed(0)).join(', ')}`,
        `  runs with:    ${rates.with.map((r) => r.toFixed(0)).join(', ')}`,
      ].join('\n'),
    );
  }, 1_200_000);
});
