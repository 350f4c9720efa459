/**
 * The query benchmark of the design's contract: p50/p95 latency of `GET /violations` with two
 * filters (arch=arm64&kernel=5.8) and of `GET /signatures`, through the real HTTP server, on a
 * Postgres history of 1,000,000 violations.
 *
 * The history is written into a fresh schema (created by the store's own migrations, dropped at the
 * end) with INSERT … SELECT over generate_series, so a million rows take seconds, not a simulation
 * campaign. Its shape: 50,000 runs of 20 violations each over ~50 scenarios (each with its own
 * arch, arm64 the most common), 3 kernel variants, 6 arches, 8 signatures and 8 comms with skewed
 * frequencies, recorded over the last 30 days. The row width is the real one: the text and stack
 * of the main signature come from an actual oom-reap-arm64 run; the other signatures are variants
 * of it (the model itself has one sleeping site, so a history with several is synthetic).
 *
 * `node dist/bench/src/query-bench.js [postgres-url]` runs it alone and prints the JSON.
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { simulate } from '@mnsim/engine';
import { ARCHES } from '@mnsim/kernel';
import { resolveScenario } from '@mnsim/scenarios';
import { openStore } from '@mnsim/store';
import pg from 'pg';
import { serve } from '@mnsim/http';
import { dropSchema } from './cleanup.js';

export interface QueryBenchResult {
  violationsP95Ms: number;
  violationsP50Ms: number;
  signaturesP95Ms: number;
  signaturesP50Ms: number;
  /** violations in the history */
  rows: number;
}

export interface QueryBenchOptions {
  /** violations to write; default 1,000,000 (a multiple of 20) */
  rows?: number;
  /** timed requests per endpoint; default 200 */
  requests?: number;
  /**
   * time budget per endpoint in ms (default 60,000): a query far off the goal stops early, after
   * at least MIN_SAMPLES requests, rather than taking an hour
   */
  budgetMs?: number;
  /** progress lines; default stderr */
  log?: (line: string) => void;
}

const VIOLATIONS_PER_RUN = 20;
const INSERT_BATCH_RUNS = 5_000;
const WARMUP_REQUESTS = 5;
const MIN_SAMPLES = 20;
const SCENARIOS = 50;
const DAYS = 30;

export async function benchQueries(
  url: string,
  opts: QueryBenchOptions = {},
): Promise<QueryBenchResult> {
  const rows = opts.rows ?? 1_000_000;
  const requests = opts.requests ?? 200;
  const budgetMs = opts.budgetMs ?? 60_000;
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (rows % VIOLATIONS_PER_RUN !== 0 || rows <= 0) {
    throw new Error(`rows must be a positive multiple of ${VIOLATIONS_PER_RUN}`);
  }
  const schema = `mnsim_bench_${randomBytes(6).toString('hex')}`;
  const store = { url, schema };
  try {
    // the schema exactly as the store creates it: its migrations, its indexes
    await (await openStore(store)).close();
    const t0 = performance.now();
    await fillHistory(url, schema, rows / VIOLATIONS_PER_RUN, log);
    log(
      `query bench: ${rows} violations written in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );

    const api = await serve(
      { host: '127.0.0.1', port: 0, token: null, bodyLimitBytes: 1024 * 1024, store },
      log,
    );
    try {
      const violations = await timeRequests(
        `${api.url}/violations?arch=arm64&kernel=5.8`,
        { count: requests, budgetMs },
        (body: { violations?: unknown[] }) => body.violations?.length === 100,
      );
      log(`query bench: GET /violations?arch=arm64&kernel=5.8 ${describe(violations)}`);
      const signatures = await timeRequests(
        `${api.url}/signatures`,
        { count: requests, budgetMs },
        (body: { signatures?: { count: number }[] }) =>
          body.signatures?.reduce((n, g) => n + g.count, 0) === rows,
      );
      log(`query bench: GET /signatures ${describe(signatures)}`);
      return {
        violationsP95Ms: violations.p95,
        violationsP50Ms: violations.p50,
        signaturesP95Ms: signatures.p95,
        signaturesP50Ms: signatures.p50,
        rows,
      };
    } finally {
      await api.close();
    }
  } finally {
    await dropSchema(url, schema);
  }
}

interface Timing {
  p50: number;
  p95: number;
  samples: number;
}

const describe = (t: Timing): string => `p50 ${t.p50} ms, p95 ${t.p95} ms (${t.samples} requests)`;

/**
 * Sequential requests over one keep-alive connection, after a warm-up; every answer is checked
 * before it counts.
 */
async function timeRequests<T>(
  url: string,
  { count, budgetMs }: { count: number; budgetMs: number },
  valid: (body: T) => boolean,
): Promise<Timing> {
  const once = async (): Promise<number> => {
    const t0 = performance.now();
    const res = await fetch(url);
    const body = (await res.json()) as T;
    const ms = performance.now() - t0;
    if (res.status !== 200 || !valid(body)) {
      throw new Error(
        `query bench: GET ${url} answered ${res.status}: ${JSON.stringify(body).slice(0, 300)}`,
      );
    }
    return ms;
  };
  for (let i = 0; i < WARMUP_REQUESTS; i++) await once();
  const samples: number[] = [];
  const start = performance.now();
  while (
    samples.length < count &&
    (samples.length < MIN_SAMPLES || performance.now() - start < budgetMs)
  ) {
    samples.push(await once());
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 0.5), p95: percentile(samples, 0.95), samples: samples.length };
}

/** nearest rank, in ms with 0.1 ms resolution */
function percentile(sorted: number[], p: number): number {
  const value = sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
  return Math.round(value * 10) / 10;
}

interface SignatureTemplate {
  weight: number;
  signature: string;
  site: string;
  stack: string[];
  text: string;
}

/** The main signature from a real run, and seven variants of it at other (plausible) sites. */
function signatureTemplates(): SignatureTemplate[] {
  const real = simulate(resolveScenario('oom-reap-arm64').scenario, { keepKernelLog: false })
    .violations[0];
  const variant = (weight: number, fn: string, site: string): SignatureTemplate => ({
    weight,
    signature: `BUG: sleeping function called from invalid context in ${fn}`,
    site,
    stack: real.stack.map((frame) => (frame === 'unmap_stage2_range' ? fn : frame)),
    text: real.text.replaceAll(real.site, site).replaceAll('unmap_stage2_range', fn),
  });
  return [
    { weight: 620, signature: real.signature, site: real.site, stack: real.stack, text: real.text },
    variant(120, 'stage2_flush_memslot', 'arch/arm64/kvm/mmu.c:421'),
    variant(80, 'kvm_tdp_mmu_zap_gfn_range', 'arch/x86/kvm/mmu/tdp_mmu.c:301'),
    variant(60, 'kvm_mips_flush_gpa_pt', 'arch/mips/kvm/mmu.c:270'),
    variant(50, 'kvmppc_unmap_hpte', 'arch/powerpc/kvm/book3s_64_mmu_hv.c:884'),
    variant(40, 'kvmppc_e500_shadow_unmap', 'arch/powerpc/kvm/e500_mmu_host.c:312'),
    variant(20, 'kvm_unmap_rmapp', 'arch/x86/kvm/mmu/mmu.c:1426'),
    variant(10, 'kvmppc_radix_unmap_page', 'arch/powerpc/kvm/book3s_64_mmu_radix.c:570'),
  ];
}

const COMMS: [number, string, number][] = [
  [700, 'oom_reaper', 36],
  [100, 'qemu-system-aarch64', 1200],
  [60, 'qemu-kvm', 2210],
  [40, 'kcompactd0', 41],
  [40, 'khugepaged', 44],
  [30, 'kworker/u8:2', 97],
  [20, 'stress-ng', 1300],
  [10, 'kswapd0', 40],
];

/** arm64 for 20 of the 50 scenarios, x86 for 12, the rest spread over mips and powerpc */
const ARCH_OF_SCENARIO: string[] = [
  ...Array<string>(20).fill('arm64'),
  ...Array<string>(12).fill('x86'),
  ...Array<string>(4).fill('mips'),
  ...Array<string>(5).fill('powerpc-book3s-hv'),
  ...Array<string>(4).fill('powerpc-book3s-pr'),
  ...Array<string>(5).fill('powerpc-e500'),
];

/** weighted rows as [lo, hi) ranges of 0..999, for a join on a hash */
function ranges<T>(items: [number, T][]): { lo: number; hi: number; item: T }[] {
  let lo = 0;
  return items.map(([weight, item]) => {
    const r = { lo, hi: lo + weight, item };
    lo += weight;
    return r;
  });
}

async function fillHistory(
  url: string,
  schema: string,
  runCount: number,
  log: (line: string) => void,
): Promise<void> {
  if (
    ARCH_OF_SCENARIO.length !== SCENARIOS ||
    ARCH_OF_SCENARIO.some((a) => !(ARCHES as readonly string[]).includes(a))
  ) {
    throw new Error('query bench: scenario table out of date');
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const s = `"${schema}"`;
  // 0..999 from a deterministic hash of an integer expression
  const h = (expr: string): string => `((hashint4(${expr}) & 2147483647) % 1000)`;
  try {
    await client.query(
      'CREATE TEMP TABLE bench_sig (lo int, hi int, signature text, site text, stack jsonb, text text)',
    );
    for (const { lo, hi, item } of ranges(
      signatureTemplates().map((t) => [t.weight, t] as [number, SignatureTemplate]),
    )) {
      await client.query('INSERT INTO bench_sig VALUES ($1, $2, $3, $4, $5, $6)', [
        lo,
        hi,
        item.signature,
        item.site,
        JSON.stringify(item.stack),
        item.text,
      ]);
    }
    await client.query('CREATE TEMP TABLE bench_comm (lo int, hi int, comm text, pid int)');
    for (const { lo, hi, item } of ranges(
      COMMS.map(([w, comm, pid]) => [w, [comm, pid]] as [number, [string, number]]),
    )) {
      await client.query('INSERT INTO bench_comm VALUES ($1, $2, $3, $4)', [lo, hi, ...item]);
    }
    await client.query(
      'CREATE TEMP TABLE bench_scenario (idx int PRIMARY KEY, name text, arch text)',
    );
    for (let i = 0; i < SCENARIOS; i++) {
      const arch = ARCH_OF_SCENARIO[i];
      await client.query('INSERT INTO bench_scenario VALUES ($1, $2, $3)', [
        i,
        `${i < 20 ? 'oom-reap' : 'fuzz'}-${arch}-${String(i).padStart(2, '0')}`,
        arch,
      ]);
    }
    // the runs: scenario (and so arch), kernel 50% 5.8 / 40% +flags / 10% +fix, start in the last 30 days
    await client.query(
      `CREATE TEMP TABLE bench_run AS
       SELECT r, md5('mnsim-bench-run-' || r)::uuid::text AS run_id, sc.name AS scenario, sc.arch,
              CASE WHEN ${h('r + 1000003')} < 500 THEN '5.8'
                   WHEN ${h('r + 1000003')} < 900 THEN '5.8+flags' ELSE '5.8+fix' END AS kernel,
              date_trunc('milliseconds', now() - interval '${DAYS} days' * ((hashint4(r + 2000003) & 2147483647) / 2147483648.0)) AS t
       FROM generate_series(0, $1::int - 1) AS r
       JOIN bench_scenario sc ON sc.idx = (hashint4(r) & 2147483647) % ${SCENARIOS}`,
      [runCount],
    );
    await client.query('CREATE UNIQUE INDEX ON bench_run (r)');
    await client.query(
      `INSERT INTO ${s}.runs (run_id, scenario, kernel, arch, seed, status, events, log_hash,
                              violations, failure_reason, created_at, finished_at, source)
       SELECT run_id, scenario, kernel, arch, r, 'completed', 400 + r % 300,
              'sha256:' || encode(sha256(run_id::bytea), 'hex'), ${VIOLATIONS_PER_RUN}, NULL,
              t, t + interval '2 seconds', NULL
       FROM bench_run`,
    );
    for (let first = 0; first < runCount; first += INSERT_BATCH_RUNS) {
      const last = Math.min(runCount, first + INSERT_BATCH_RUNS) - 1;
      await client.query(
        `INSERT INTO ${s}.violations (run_id, seq, event_id, jiffies, site, in_atomic, irqs_disabled,
                                      non_block, pid, comm, reported, signature, stack, text,
                                      scenario, kernel, arch, recorded_at)
         SELECT br.run_id, 20 + i * 7, 's3.' || i || '.4.1', 10 + (i / 2) * 25, sg.site, 1, 0, 1,
                cm.pid, cm.comm, i % 10 = 0, sg.signature, sg.stack, sg.text,
                br.scenario, br.kernel, br.arch, br.t + i * interval '3 milliseconds'
         FROM generate_series($1::int * ${VIOLATIONS_PER_RUN}, ($2::int + 1) * ${VIOLATIONS_PER_RUN} - 1) AS g
         CROSS JOIN LATERAL (
           SELECT g / ${VIOLATIONS_PER_RUN} AS r, g % ${VIOLATIONS_PER_RUN} AS i,
                  -- a run mostly repeats one path (one signature, one task); a few violations differ
                  CASE WHEN g % ${VIOLATIONS_PER_RUN} < ${VIOLATIONS_PER_RUN - 2}
                       THEN ${h(`g / ${VIOLATIONS_PER_RUN}`)} ELSE ${h('g')} END AS sig,
                  CASE WHEN g % ${VIOLATIONS_PER_RUN} < ${VIOLATIONS_PER_RUN - 2}
                       THEN ${h(`g / ${VIOLATIONS_PER_RUN} + 3000017`)} ELSE ${h('g + 3000017')} END AS comm
         ) AS k
         JOIN bench_run br ON br.r = k.r
         JOIN bench_sig sg ON k.sig >= sg.lo AND k.sig < sg.hi
         JOIN bench_comm cm ON k.comm >= cm.lo AND k.comm < cm.hi`,
        [first, last],
      );
      if ((last + 1) % (INSERT_BATCH_RUNS * 4) === 0 || last === runCount - 1) {
        log(`query bench: ${(last + 1) * VIOLATIONS_PER_RUN} violations…`);
      }
    }
    // what a long-lived database has: fresh statistics and a visibility map (index-only scans)
    await client.query(`VACUUM ANALYZE ${s}.violations`);
    await client.query(`VACUUM ANALYZE ${s}.runs`);
  } finally {
    await client.end();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const url =
    process.argv[2] ??
    process.env.MNSIM_DATABASE_URL ??
    'postgres://postgres@127.0.0.1:5432/postgres';
  process.stdout.write(`${JSON.stringify(await benchQueries(url))}\n`);
}
