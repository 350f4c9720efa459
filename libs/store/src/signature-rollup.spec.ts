import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import type { RunEvent, Violation } from '@mnsim/events';
import { openDataSource } from './data-source.js';
import {
  openStore,
  type EventToAppend,
  type SignatureGroup,
  type Store,
  type ViolationFilter,
  type ViolationRow,
  type ViolationToAppend,
} from './index.js';
import {
  SignatureRollup1795564800000,
  qualifiedNames,
} from './migrations/1795564800000-signature-rollup.js';
import { MIGRATIONS } from './migrations/index.js';
import { TEST_DIALECTS, type TestDatabase } from './test-dialects.js';
import { TestLogs } from './test-events.js';
import { isoFromDb } from './values.js';

const logs = new TestLogs();

const T0 = Date.parse('2026-11-24T10:00:00.000Z');
const at = (second: number): string => new Date(T0 + second * 1000).toISOString();

// bytewise order differs from a case-insensitive or numeric one: 'B' < 'a', '5.10' < '5.8'
const SIGNATURES = ['BUG: a_fn', 'BUG: B_fn', 'BUG: c', 'WARN: z', 'BUG: a_fn2'];
const RUNS = [
  { runId: 'r1', scenario: 'oom', kernel: '5.8', arch: 'arm64' },
  { runId: 'r2', scenario: 'oom', kernel: '5.10', arch: 'arm64' },
  { runId: 'r3', scenario: 'munmap', kernel: '5.8', arch: 'x86' },
  { runId: 'r4', scenario: 'oom', kernel: '5.8', arch: 'arm64' },
  { runId: 'r5', scenario: 'munmap', kernel: '5.8+flags', arch: 'arm64' },
];
type Run = (typeof RUNS)[number];

const FILTERS: ViolationFilter[] = [
  {},
  { arch: 'arm64' },
  { arch: 'x86' },
  { kernel: '5.8' },
  { scenario: 'oom' },
  { arch: 'arm64', kernel: '5.8' },
  { arch: 'arm64', kernel: '5.8', scenario: 'munmap' },
  { arch: 'riscv' },
  { run: 'r2' },
  { comm: 'qemu' },
  { since: new Date(at(2030)) },
  { arch: 'arm64', comm: 'oom_reaper' },
];

interface Batch {
  events: EventToAppend[];
  violations: ViolationToAppend[];
}

/** 60 events of run `index`, about a third of them violations, wall clocks not in seq order */
function runBatch(run: Run, index: number): Batch {
  const events: EventToAppend[] = [];
  const violations: ViolationToAppend[] = [];
  for (let seq = 0; seq < 60; seq++) {
    const isViolation = seq > 0 && (seq * 7 + index) % 3 === 0;
    const second = index * 1000 + (index % 2 === 0 ? seq : 500 - seq);
    const e: RunEvent = {
      runId: run.runId,
      id: `run.${seq}`,
      seq,
      type: isViolation ? 'violation' : seq === 0 ? 'run.start' : 'call',
      causationId: seq === 0 ? null : `run.${seq - 1}`,
      jiffies: seq,
      payload: { seq },
      recordedAt: at(second),
    };
    events.push(logs.toAppend(e));
    if (!isViolation) continue;
    const signature = SIGNATURES[(seq * (index + 1)) % SIGNATURES.length];
    const v: Violation = {
      seq,
      kind: 'atomic-sleep',
      jiffies: seq,
      site: 'mm/oom_kill.c:1',
      inAtomic: 1,
      irqsDisabled: 0,
      nonBlock: 1,
      pid: 36,
      comm: seq % 2 === 0 ? 'oom_reaper' : 'qemu',
      reported: false,
      signature,
      stack: [signature],
      text: signature,
    };
    violations.push({
      eventId: e.id,
      v,
      scenario: run.scenario,
      kernel: run.kernel,
      arch: run.arch,
    });
  }
  return { events, violations };
}

async function viaAppend(store: Store, run: Run, batch: Batch): Promise<void> {
  const half = Math.floor(batch.events.length / 2);
  const firstHalf = new Set(batch.events.slice(0, half).map((e) => e.event.id));
  await store.appendEvents(
    run.runId,
    batch.events.slice(0, half),
    batch.violations.filter((v) => firstHalf.has(v.eventId)),
  );
  await store.appendEvents(
    run.runId,
    batch.events.slice(half),
    batch.violations.filter((v) => !firstHalf.has(v.eventId)),
  );
}

async function viaSink(store: Store, run: Run, batch: Batch): Promise<void> {
  const sink = store.createEventSink(run.runId, run, { batchSize: 7 });
  const byEvent = new Map(batch.violations.map((v) => [v.eventId, v.v]));
  for (const e of batch.events) {
    sink.append(e.event, e.lines);
    const v = byEvent.get(e.event.id);
    if (v) sink.appendViolation(e.event.id, v);
  }
  await sink.flush();
}

/** r1–r3 through appendEvents, r4–r5 through the sink; then r1 and r4 once more (no-ops) */
async function writeAll(store: Store): Promise<void> {
  for (const [index, run] of RUNS.entries()) {
    await store.createRun({ ...run, seed: 1 });
    const batch = runBatch(run, index);
    await (index < 3 ? viaAppend(store, run, batch) : viaSink(store, run, batch));
  }
  await store.appendEvents('r1', runBatch(RUNS[0], 0).events, runBatch(RUNS[0], 0).violations);
  await viaSink(store, RUNS[3], runBatch(RUNS[3], 3));
}

async function allViolations(store: Store, filter: ViolationFilter): Promise<ViolationRow[]> {
  const rows: ViolationRow[] = [];
  let cursor: string | null = null;
  do {
    const page: Awaited<ReturnType<Store['queryViolations']>> = await store.queryViolations({
      ...filter,
      limit: 1000,
      cursor,
    });
    rows.push(...page.rows);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return rows;
}

const bytewise = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** the GROUP BY computed in JS from the violations themselves */
function expectedGroups(rows: ViolationRow[]): SignatureGroup[] {
  const bySignature = new Map<string, ViolationRow[]>();
  for (const row of rows) {
    bySignature.set(row.signature, [...(bySignature.get(row.signature) ?? []), row]);
  }
  const distinct = (values: string[]): string[] => [...new Set(values)].sort(bytewise);
  return [...bySignature.entries()]
    .map(([signature, group]) => {
      const times = group.map((v) => v.recordedAt).sort(bytewise);
      return {
        signature,
        kind: group[0].kind,
        count: group.length,
        runs: new Set(group.map((v) => v.runId)).size,
        observed: group.filter((v) => v.origin === 'observed').length,
        kernels: distinct(group.map((v) => v.kernel)),
        arches: distinct(group.map((v) => v.arch)),
        firstSeen: times[0],
        lastSeen: times[times.length - 1],
      };
    })
    .sort((a, b) => b.count - a.count || bytewise(a.signature, b.signature));
}

async function expectGroupsExact(store: Store): Promise<void> {
  for (const filter of FILTERS) {
    const expected = expectedGroups(await allViolations(store, filter));
    expect(await store.groupBySignature(filter), JSON.stringify(filter)).toEqual(expected);
  }
}

/** every rollup row, and the same computed by GROUP BY from violations: must be equal */
async function rollupAndRecomputed(
  dataSource: DataSource,
  schema: string | null,
): Promise<{ rollup: string[]; recomputed: string[]; signatureRuns: string[]; pairs: string[] }> {
  const t = qualifiedNames(schema);
  const line = (r: Record<string, unknown>): string =>
    [
      r.signature,
      r.scenario,
      r.kernel,
      r.arch,
      Number(r.count),
      Number(r.runs),
      isoFromDb(r.first_seen),
      isoFromDb(r.last_seen),
    ].join('|');
  const rollup: Record<string, unknown>[] = await dataSource.query(`SELECT * FROM ${t.rollup}`);
  const recomputed: Record<string, unknown>[] = await dataSource.query(
    `SELECT "signature", "scenario", "kernel", "arch", COUNT(*) AS "count",
            COUNT(DISTINCT "run_id") AS "runs",
            MIN("recorded_at") AS "first_seen", MAX("recorded_at") AS "last_seen"
     FROM ${t.violations} GROUP BY "signature", "scenario", "kernel", "arch"`,
  );
  const signatureRuns: { signature: string; run_id: string }[] = await dataSource.query(
    `SELECT * FROM ${t.runs}`,
  );
  const pairs: { signature: string; run_id: string }[] = await dataSource.query(
    `SELECT DISTINCT "signature", "run_id" FROM ${t.violations}`,
  );
  const pair = (r: { signature: string; run_id: string }): string => `${r.signature}|${r.run_id}`;
  return {
    rollup: rollup.map(line).sort(),
    recomputed: recomputed.map(line).sort(),
    signatureRuns: signatureRuns.map(pair).sort(),
    pairs: pairs.map(pair).sort(),
  };
}

describe.each(TEST_DIALECTS)('signature rollup on $dialect', ({ dialect, setup }) => {
  let db: TestDatabase;
  let store: Store;
  let dataSource: DataSource | null;

  beforeEach(async () => {
    db = setup();
    store = await openStore(db.options);
    dataSource = null;
  });

  afterEach(async () => {
    await store.close();
    if (dataSource?.isInitialized) await dataSource.destroy();
    await db.cleanup();
  });

  /** a second connection to the same database, for looking at the tables themselves */
  async function raw(): Promise<DataSource> {
    dataSource ??= (await openDataSource(db.options)).dataSource;
    return dataSource;
  }

  async function expectRollupExact(): Promise<void> {
    const tables = await rollupAndRecomputed(await raw(), db.options.schema ?? null);
    expect(tables.rollup).toEqual(tables.recomputed);
    expect(tables.signatureRuns).toEqual(tables.pairs);
  }

  it('answers groupBySignature exactly as the GROUP BY over violations, for every filter', async () => {
    await writeAll(store);
    expect((await allViolations(store, {})).length).toBeGreaterThan(80);
    await expectGroupsExact(store);
    await expectRollupExact();
  });

  it('re-writing the same rows changes nothing', async () => {
    await writeAll(store);
    const before = await store.groupBySignature({});
    for (const [index, run] of RUNS.entries()) {
      const batch = runBatch(run, index);
      await viaAppend(store, run, batch);
      await viaSink(store, run, batch);
    }
    expect(await store.groupBySignature({})).toEqual(before);
    await expectRollupExact();
  });

  it('stays exact when the violations of one run, then all, are deleted and rebuilt', async () => {
    await writeAll(store);
    await store.deleteViolations('r1');
    expect(await allViolations(store, { run: 'r1' })).toEqual([]);
    await expectGroupsExact(store);
    await expectRollupExact();

    await store.deleteViolations('no-such-run');
    await expectGroupsExact(store);

    // rebuilding the projection: the events are already there, the violations come back
    await viaAppend(store, RUNS[0], runBatch(RUNS[0], 0));
    await expectGroupsExact(store);
    await expectRollupExact();

    await store.deleteViolations();
    expect(await store.groupBySignature({})).toEqual([]);
    await expectRollupExact();
    expect((await rollupAndRecomputed(await raw(), db.options.schema ?? null)).rollup).toEqual([]);

    await writeAll(store);
    await expectGroupsExact(store);
    await expectRollupExact();
  });

  it('the migration backfills violations written before it', async () => {
    await writeAll(store);
    const before = await store.groupBySignature({});
    await store.close();

    const ds = await raw();
    // the store as it was before the rollup: every migration from it on undone
    const undo = MIGRATIONS.length - MIGRATIONS.indexOf(SignatureRollup1795564800000);
    for (let i = 0; i < undo; i++) await ds.undoLastMigration({ transaction: 'all' });
    const t = qualifiedNames(db.options.schema ?? null);
    // rows that no trigger saw: a copy of r3's violations under another run id
    await ds.query(
      `INSERT INTO ${t.violations} SELECT 'r3-copy', "seq", "event_id", "jiffies", "site",
         "in_atomic", "irqs_disabled", "non_block", "pid", "comm", "reported", "signature", "stack",
         "text", "scenario", "kernel", "arch", "recorded_at" FROM ${t.violations} WHERE "run_id" = 'r3'`,
    );
    await ds.runMigrations({ transaction: 'all' });
    await expectRollupExact();

    store = await openStore(db.options);
    const after = await store.groupBySignature({});
    expect(after).not.toEqual(before);
    await expectGroupsExact(store);
  });

  it.runIf(dialect === 'postgres')(
    'concurrent writers with signatures in opposite orders neither deadlock nor lose counts',
    async () => {
      const other = await openStore(db.options);
      try {
        const write = (s: Store, runId: string, reversed: boolean): Promise<void> => {
          const run = { ...RUNS[0], runId };
          const batch = runBatch(run, 0);
          const order = reversed ? [...batch.violations].reverse() : batch.violations;
          return s.appendEvents(runId, batch.events, order);
        };
        await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            Promise.all([write(store, `a${i}`, false), write(other, `b${i}`, true)]),
          ),
        );
      } finally {
        await other.close();
      }
      await expectGroupsExact(store);
      await expectRollupExact();
    },
  );
});
