/**
 * The API under heavy runs (issue "No request can take the service down"): `mnsim serve` in a
 * process of its own, on SQLite and on Postgres, answering GET /health and GET /violations while 4
 * heavy runs are being simulated; and the time it takes to refuse or stop the 935 KB-class
 * scenario that once took it down.
 *
 * - heavy runs: four clients each POST the hostile scenario (8 VMs × 509 memslots, 9,000
 *   mprotects across them; bench/src/hostile-scenario.ts) back to back, with MNSIM_API_THREADS=4
 *   so that all four are simulated at once (on this machine's cores, beside the request thread);
 * - the sampler sends one request at a time, alternating /health and /violations?limit=50, and
 *   records each latency; the same sampler on the idle server first gives the baseline;
 * - the refusal: POST of the hostile scenario on the idle server until its 422, median of 5.
 *
 * `node dist/bench/src/api-bench.js` runs it alone and prints the JSON.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { dropSchema } from './cleanup.js';
import { hostileScenario } from './hostile-scenario.js';

const ROOT = join(import.meta.dirname, '../../..');
const CLI = join(ROOT, 'dist/apps/cli/src/main.js');

export interface LatencyStats {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface ApiBenchDialectResult {
  idle: { health: LatencyStats; violations: LatencyStats };
  underHeavyRuns: { health: LatencyStats; violations: LatencyStats; heavyRunsAnswered: number };
  /** p99 under load / p99 idle, per route */
  p99Ratio: { health: number; violations: number };
  /** POST of the hostile scenario until its answer (422 naming the limit), median of 5 */
  refuseHostileSecs: number;
  refuseHostileStatus: number;
  /** the largest RSS of the api process seen while it worked (MB) */
  maxRssMb: number;
}

export interface ApiBenchOptions {
  databaseUrl: string;
  /** how long the sampler runs under load (ms); default 10,000 */
  loadMs?: number;
  log?: (line: string) => void;
}

export async function benchApi(
  opts: ApiBenchOptions,
): Promise<{ sqlite: ApiBenchDialectResult; postgres: ApiBenchDialectResult | { error: string } }> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const dir = mkdtempSync(join(tmpdir(), 'mnsim-api-bench-'));
  try {
    log('api: on SQLite…');
    const sqlite = await benchOne({ MNSIM_SQLITE_PATH: join(dir, 'api.sqlite') }, opts, log);
    log('api: on Postgres…');
    const schema = `mnsimbench_api_${randomBytes(4).toString('hex')}`;
    let postgres: ApiBenchDialectResult | { error: string };
    try {
      postgres = await benchOne(
        { MNSIM_DATABASE_URL: opts.databaseUrl, MNSIM_DATABASE_SCHEMA: schema },
        opts,
        log,
      );
    } catch (err) {
      postgres = { error: err instanceof Error ? err.message : String(err) };
    } finally {
      await dropSchema(opts.databaseUrl, schema).catch(() => undefined);
    }
    return { sqlite, postgres };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchOne(
  storeEnv: NodeJS.ProcessEnv,
  opts: ApiBenchOptions,
  log: (line: string) => void,
): Promise<ApiBenchDialectResult> {
  const api = await startApi(storeEnv);
  try {
    const base = api.url;
    // a history to query: the reported BUG a few times over
    for (let i = 0; i < 10; i++) await post(base, '/runs', { scenario: 'oom-reap-arm64', seed: i });
    const hostile = JSON.stringify({ scenario: hostileScenario() });

    await sample(base, 1000); // warm-up
    const idle = await sample(base, 3000);
    log(`  idle: /health p99 ${idle.health.p99Ms} ms, /violations p99 ${idle.violations.p99Ms} ms`);

    const refusals: number[] = [];
    let refuseStatus = 0;
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      refuseStatus = (await post(base, '/runs', hostile, true)).status;
      refusals.push((performance.now() - t0) / 1000);
    }
    const refuseHostileSecs = Number(median(refusals).toFixed(3));
    log(`  the hostile scenario answered ${refuseStatus} in ${refuseHostileSecs} s (median of 5)`);

    let stop = false;
    let answered = 0;
    const clients = Array.from({ length: 4 }, async () => {
      while (!stop) {
        await post(base, '/runs', hostile, true);
        answered++;
      }
    });
    await new Promise((r) => setTimeout(r, 500)); // the four are in
    const loaded = await sample(base, opts.loadMs ?? 10_000);
    stop = true;
    await Promise.all(clients);
    log(
      `  4 heavy runs: /health p99 ${loaded.health.p99Ms} ms, /violations p99 ${loaded.violations.p99Ms} ms (${answered} heavy runs answered)`,
    );
    return {
      idle,
      underHeavyRuns: { ...loaded, heavyRunsAnswered: answered },
      p99Ratio: {
        health: ratio(loaded.health.p99Ms, idle.health.p99Ms),
        violations: ratio(loaded.violations.p99Ms, idle.violations.p99Ms),
      },
      refuseHostileSecs,
      refuseHostileStatus: refuseStatus,
      maxRssMb: Math.round(api.maxRssBytes() / 1024 / 1024),
    };
  } finally {
    await api.stop();
  }
}

/** One request at a time for `ms`, alternating the two routes. */
async function sample(
  base: string,
  ms: number,
): Promise<{ health: LatencyStats; violations: LatencyStats }> {
  const health: number[] = [];
  const violations: number[] = [];
  const end = performance.now() + ms;
  for (let i = 0; performance.now() < end; i++) {
    const path = i % 2 === 0 ? '/health' : '/violations?limit=50';
    const t0 = performance.now();
    const res = await fetch(base + path);
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}`);
    (i % 2 === 0 ? health : violations).push(performance.now() - t0);
  }
  return { health: stats(health), violations: stats(violations) };
}

async function post(
  base: string,
  path: string,
  body: object | string,
  anyStatus = false,
): Promise<{ status: number }> {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  if (!anyStatus && res.status >= 300) {
    throw new Error(`POST ${path} answered ${res.status}: ${text.slice(0, 200)}`);
  }
  return { status: res.status };
}

interface StartedApi {
  url: string;
  maxRssBytes(): number;
  stop(): Promise<void>;
}

async function startApi(storeEnv: NodeJS.ProcessEnv): Promise<StartedApi> {
  const child: ChildProcess = spawn(process.execPath, [CLI, 'serve'], {
    env: {
      PATH: process.env.PATH,
      MNSIM_API_PORT: '0',
      MNSIM_API_THREADS: '4',
      MNSIM_API_QUEUE: '4',
      ...storeEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const m = /listening on (http:\/\/[^\s]+)/.exec(output);
      if (m) resolve(m[1]);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`mnsim serve exited ${code}: ${output}`)));
  });
  let maxRss = 0;
  const rss = setInterval(() => {
    maxRss = Math.max(maxRss, rssOf(child.pid!));
  }, 200);
  return {
    url,
    maxRssBytes: () => maxRss,
    async stop() {
      clearInterval(rss);
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** VmRSS of a process, from /proc (0 where there is none). */
function rssOf(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function stats(ms: number[]): LatencyStats {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
  return {
    samples: s.length,
    p50Ms: round(at(0.5)),
    p99Ms: round(at(0.99)),
    maxMs: round(s[s.length - 1] ?? 0),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const round = (x: number): number => Math.round(x * 10) / 10;
const ratio = (a: number, b: number): number => Number((a / Math.max(b, 0.1)).toFixed(2));

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const url = process.argv[2] ?? 'postgres://postgres@127.0.0.1:5432/test';
  process.stdout.write(JSON.stringify(await benchApi({ databaseUrl: url }), null, 2) + '\n');
}
