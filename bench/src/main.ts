/**
 * `npm run bench -- [--json] [--runs N] [--steps N]`: the benchmarks of the design's contract.
 * Embedded: a generated campaign (mixed arches and variants) run without persistence, then with
 * every event written through the store's SQLite sink, and the raw better-sqlite3 insert rate of
 * the same rows into the same table measured in the same process, so the ratio is like for like.
 * replay: verify mode from a JSONL log of over 1M events; query: the API on a 1M-violation Postgres
 * history; distributed: a campaign on real worker processes against the raw BullMQ ceiling;
 * recovery: how long the runs of a SIGKILLed worker wait (distributed.recoverySecs); api: the p99
 * of /health and /violations while 4 heavy runs are simulated, and the time to stop the scenario
 * that once took the API down; triage: `mnsim triage` of a 100 MB log with 1,000 splats, its
 * wall time and peak RSS against a tenth of the log; ui: the dashboard in headless Chromium (a
 * 10,000-event run's timeline: time to its first frame, frames per second while panning, and
 * the JavaScript and CSS gzipped).
 * `--only` runs a subset; a part not run is null.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { recordInto, simulate } from '@mnsim/engine';
import { NO_RUN_LIMITS, bodyOfEventLine } from '@mnsim/events';
import { generateScenario } from '@mnsim/scenarios';
import type { Scenario } from '@mnsim/kernel';
import {
  measureRawSqliteInsertRate,
  openStore,
  type RawEventRow,
  type StoreOptions,
} from '@mnsim/store';
import { WORKER_CONCURRENCY } from '@mnsim/bus';
import { benchReplay } from './replay-bench.js';
import { benchQueries } from './query-bench.js';
import { benchDistributed } from './distributed-bench.js';
import { benchRecovery } from './recovery-bench.js';
import { benchApi } from './api-bench.js';
import { benchTriage } from './triage-bench.js';
import { benchUi } from './ui-bench.js';
import { BenchArgError, benchParts, envWholeNumber, wholeNumber } from './args.js';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    runs: { type: 'string', default: '1000' },
    steps: { type: 'string', default: '200' },
    seed: { type: 'string', default: '2020' },
    only: { type: 'string' },
  },
});
const queryUrl = process.env.MNSIM_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Every setting, checked before anything runs; a wrong one is one line and exit status 2. */
function settings() {
  try {
    const env = process.env;
    return {
      // --only embedded,distributed,recovery,replay,query,api,triage,ui: a subset (the whole set takes a while)
      parts: benchParts(values.only),
      runs: wholeNumber('--runs', values.runs, 1, 1_000_000),
      steps: wholeNumber('--steps', values.steps, 1, 100_000),
      seed: wholeNumber('--seed', values.seed, 0, 2 ** 32 - 1),
      // the distributed part's own campaign (worker processes, Redis and Postgres): its runs and
      // steps, the campaigns run before the measured ones to warm the workers up, the measured
      // rounds (the faster counts), and the workers' and ceilings' concurrency (the services'
      // default and range)
      dist: {
        runs: envWholeNumber(env, 'MNSIM_BENCH_DIST_RUNS', 30, 1, 10_000),
        steps: envWholeNumber(env, 'MNSIM_BENCH_DIST_STEPS', 20, 1, 10_000),
        warmups: envWholeNumber(env, 'MNSIM_BENCH_DIST_WARMUPS', 8, 0, 1000),
        rounds: envWholeNumber(env, 'MNSIM_BENCH_DIST_ROUNDS', 2, 1, 100),
        concurrency: envWholeNumber(
          env,
          'MNSIM_BENCH_DIST_CONCURRENCY',
          WORKER_CONCURRENCY.default,
          WORKER_CONCURRENCY.min,
          WORKER_CONCURRENCY.max,
        ),
      },
    };
  } catch (err) {
    if (!(err instanceof BenchArgError)) throw err;
    process.stderr.write(`mnsim bench: ${err.message}\n`);
    process.exit(err.exitCode);
  }
}
const { parts, runs, steps, seed, dist } = settings();
const log = (msg: string): void => {
  if (!values.json) process.stderr.write(`${msg}\n`);
};

function seconds(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

interface Totals {
  ranges: number;
  events: number;
  secs: number;
}

function campaign(): Scenario[] {
  const out: Scenario[] = [];
  for (let i = 0; i < runs; i++) {
    out.push(generateScenario(seed, i, { steps, mix: 'invalidations' }).scenario);
  }
  return out;
}

function runNoPersist(scenarios: Scenario[]): Totals {
  let ranges = 0;
  let events = 0;
  const t0 = process.hrtime.bigint();
  for (const s of scenarios) {
    const r = simulate(s, { keepKernelLog: false, encode: false, limits: NO_RUN_LIMITS });
    ranges += r.ranges;
    events += r.events;
  }
  return { ranges, events, secs: seconds(t0) };
}

async function runPersist(
  scenarios: Scenario[],
  where: StoreOptions,
  runIdOf: (i: number) => string = (i) => `bench-${i}`,
): Promise<Totals> {
  const store = await openStore(where);
  let ranges = 0;
  let events = 0;
  const t0 = process.hrtime.bigint();
  try {
    for (let i = 0; i < scenarios.length; i++) {
      const s = scenarios[i];
      const runId = runIdOf(i);
      await store.createRun({
        runId,
        scenario: s.name,
        kernel: s.kernel,
        arch: s.host.arch,
        seed: s.seed,
      });
      const sink = store.createEventSink(runId, {
        scenario: s.name,
        kernel: s.kernel,
        arch: s.host.arch,
      });
      const r = simulate(s, {
        keepKernelLog: false,
        limits: NO_RUN_LIMITS,
        onEvent: recordInto(sink, runId),
      });
      await sink.flush();
      await store.finishRun(runId, {
        status: 'completed',
        events: r.events,
        logHash: r.logHash,
        violations: r.violations.length,
      });
      ranges += r.ranges;
      events += r.events;
    }
    return { ranges, events, secs: seconds(t0) };
  } finally {
    await store.close();
  }
}

/** The rows the persisted campaign wrote, rebuilt by simulating it again (outside any timing). */
function campaignRows(scenarios: Scenario[]): RawEventRow[] {
  const rows: RawEventRow[] = [];
  const recordedAt = new Date().toISOString();
  scenarios.forEach((s, i) => {
    const runId = `raw-${i}`;
    simulate(s, {
      keepKernelLog: false,
      limits: NO_RUN_LIMITS,
      onEvent: (e, lines) => {
        rows.push({
          runId,
          seq: e.seq,
          id: e.id,
          type: e.type,
          causationId: e.causationId,
          jiffies: e.jiffies,
          // what the store keeps of it: its format 2 body
          payload: bodyOfEventLine(e, lines[lines.length - 1]),
          recordedAt,
        });
      },
    });
  });
  return rows;
}

async function main(): Promise<void> {
  const result: Record<string, unknown> = {
    machine: { cpus: cpus().length, node: process.version },
    embedded: null,
    distributed: null,
    replay: null,
    query: null,
    api: null,
    triage: null,
    ui: null,
  };
  if (parts.has('embedded')) Object.assign(result, await benchEmbedded());
  const redisUrl = process.env.MNSIM_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (parts.has('distributed')) {
    result.distributed = await benchDistributed({
      ...dist,
      seed,
      redisUrl,
      databaseUrl: queryUrl,
      log,
    });
  }
  if (parts.has('recovery')) {
    log('recovery: SIGKILL of a worker under load, on npm run cluster with 2 replicas and with 1…');
    const recoverySecs = await benchRecovery({ redisUrl, databaseUrl: queryUrl, seed, log });
    result.distributed = { ...(result.distributed ?? {}), recoverySecs };
  }
  if (parts.has('replay')) {
    log('replay, verify mode, from a JSONL log of over 1,000,000 events…');
    const r = await benchReplay();
    result.replay = r;
  }
  if (parts.has('query')) {
    log(`queries on a Postgres history of 1,000,000 violations (${queryUrl})…`);
    try {
      const q = await benchQueries(queryUrl);
      result.query = q;
    } catch (err) {
      result.query = { error: err instanceof Error ? err.message : String(err) };
    }
  }
  if (parts.has('api')) {
    log('api: /health and /violations while 4 heavy runs are simulated, and the hostile scenario…');
    result.api = await benchApi({ databaseUrl: queryUrl, log });
  }
  if (parts.has('triage')) {
    log('triage: a 100 MB kernel log with 1,000 splats, through the CLI…');
    result.triage = await benchTriage({ log });
  }
  if (parts.has('ui')) {
    log('ui: the dashboard in headless Chromium, a run of 10,000 events…');
    result.ui = await benchUi(log);
  }
  process.stdout.write(JSON.stringify(result, null, values.json ? undefined : 2) + '\n');
}

/**
 * What the campaign's history takes in Postgres: it is recorded in a schema of its own, and the
 * events table's total relation size (heap, TOAST and indexes), with the log_defs table's, is
 * divided by the events.
 */
async function postgresStorage(scenarios: Scenario[]): Promise<object> {
  const schema = `mnsim_bench_storage_${process.pid}`;
  log(`the same campaign recorded in Postgres (${queryUrl}, schema ${schema})…`);
  const client = new pg.Client({ connectionString: queryUrl });
  await client.connect();
  try {
    // run ids as mnsim makes them (UUIDs): every row and index entry repeats its run's
    const t = await runPersist(scenarios, { url: queryUrl, schema }, () => randomUUID());
    await client.query(`VACUUM ANALYZE "${schema}"."events", "${schema}"."log_defs"`);
    const size = async (table: string): Promise<number> => {
      const r = await client.query<{ n: string }>('SELECT pg_total_relation_size($1) AS n', [
        `"${schema}"."${table}"`,
      ]);
      return Number(r.rows[0].n);
    };
    const events = await size('events');
    const defs = await size('log_defs');
    return {
      events: t.events,
      eventsPerSec: Math.round(t.events / t.secs),
      eventsTableBytes: events,
      logDefsTableBytes: defs,
      bytesPerEvent: Number(((events + defs) / t.events).toFixed(1)),
      eventsTableBytesPerEvent: Number((events / t.events).toFixed(1)),
    };
  } finally {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  }
}

async function benchEmbedded(): Promise<{ campaign: object; embedded: object }> {
  log(`generating ${runs} scenarios (seed ${seed}, ${steps} steps each)…`);
  const scenarios = campaign();
  const dir = mkdtempSync(join(tmpdir(), 'mnsim-bench-'));
  try {
    log('embedded, no persistence…');
    runNoPersist(scenarios.slice(0, Math.min(50, runs))); // warm-up
    const np = runNoPersist(scenarios);
    log(`  ${np.ranges} ranges, ${np.events} events in ${np.secs.toFixed(2)} s`);
    log('embedded, every event recorded in SQLite…');
    const p = await runPersist(scenarios, { sqlitePath: join(dir, 'bench.sqlite') });
    log(`  ${p.ranges} ranges, ${p.events} events in ${p.secs.toFixed(2)} s`);
    const rows = campaignRows(scenarios);
    log(`raw better-sqlite3 inserts of the same ${rows.length} rows into the same table…`);
    const raw = measureRawSqliteInsertRate(rows, { path: join(dir, 'raw.sqlite') });
    const avgBytes = rows.reduce((n, r) => n + r.payload.length, 0) / Math.max(1, rows.length);
    const eventsPerSec = p.events / p.secs;
    return {
      campaign: {
        runs,
        stepsPerRun: steps,
        seed,
        ranges: np.ranges,
        events: np.events,
        avgPayloadBytes: Math.round(avgBytes),
      },
      embedded: {
        rangesPerSec: Math.round(p.ranges / p.secs),
        eventsPerSec: Math.round(eventsPerSec),
        rangesPerSecNoPersist: Math.round(np.ranges / np.secs),
        eventsPerSecNoPersist: Math.round(np.events / np.secs),
        sqliteRawRowsPerSec: Math.round(raw.rowsPerSec),
        persistRatio: Number((eventsPerSec / raw.rowsPerSec).toFixed(3)),
        postgres: await postgresStorage(scenarios),
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
