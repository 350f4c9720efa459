/**
 * `npm run cluster` (scripts/cluster.mjs), as design.md describes it: every worker (kvm once per
 * architecture) and the api (HTTP and orchestrator), from dist/, against the given Redis and
 * Postgres; N replicas of each, every api on a port of its own. It supervises them (issue 14): a
 * process killed mid-campaign is restarted and the campaign ends as the embedded one does; a bad
 * configuration stops it all with exit 2; SIGTERM stops it all and leaves no process behind, and
 * so does the death of the supervisor itself.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARCHES } from '@mnsim/kernel';
import { HEARTBEAT_MAX_AGE_MS, SERVED_QUEUES } from '@mnsim/bus';
import {
  BACKOFF_MAX_MS,
  STABLE_AFTER_MS,
  backoffMs,
  describeExit,
  onUnexpectedExit,
} from '../../scripts/supervisor.mjs';
import { DATABASE_URL, type Env, REDIS_URL, testEnv } from './harness.js';
import { Worker, buildDist, clusterEnv } from './processes.js';

const ROOT = join(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/apps/cli/src/main.js');
/** the processes of one replica: api, auditor, mmu-notifier, oom-killer, kvm per arch */
const APPS = 4 + ARCHES.length;
/** one replica of each kind of process, killed in turn: the workers, a kvm and the api */
const KINDS = ['auditor', 'mmu-notifier', 'oom-killer', 'kvm-arm64', 'api'];

/** Whether `pid` is a live process (a zombie, dead but not yet reaped, is not). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves once none of `pids` is alive; rejects naming those left after `ms`. */
async function gone(pids: number[], ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (pids.some(alive)) {
    if (Date.now() > deadline) throw new Error(`still alive: ${pids.filter(alive).join(' ')}`);
    await sleep(100);
  }
}

/** Every process a test started, killed at the end of its file whatever happened. */
const started = new Set<ChildProcess>();
/** every pid a supervisor said it started */
const supervised = new Set<number>();

/** SIGKILL to `child` and, if it leads a process group (a supervisor does), to the group. */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

afterAll(() => {
  for (const c of started) killGroup(c);
  for (const pid of supervised) if (alive(pid)) process.kill(pid, 'SIGKILL');
});

/** `npm run cluster` of a test's own: its output, and each process's pid from its log lines. */
class Cluster {
  readonly child: ChildProcess;
  output = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, [join(ROOT, 'scripts/cluster.mjs'), ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    started.add(this.child);
    const onData = (d: Buffer): void => {
      this.output += d.toString();
      for (const m of d.toString().matchAll(/mnsim cluster: \S+ started \(pid (\d+)\)/g)) {
        supervised.add(Number(m[1]));
      }
    };
    this.child.stdout?.on('data', onData);
    this.child.stderr?.on('data', onData);
    this.exited = new Promise((r) =>
      this.child.once('exit', (code, signal) => r({ code, signal })),
    );
  }

  /** The supervisor's own lines. */
  lines(): string[] {
    return this.output.split('\n').filter((l) => l.startsWith('mnsim cluster: '));
  }

  /** Resolves once `pattern` matches the output so far. */
  seen(pattern: RegExp, what: string, ms = 90_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const deadline = Date.now() + ms;
      const check = (): void => {
        const m = this.output.match(pattern);
        if (m) resolve(m);
        else if (Date.now() > deadline)
          reject(new Error(`no ${what} within ${ms / 1000} s: ${this.output.slice(-3000)}`));
        else setTimeout(check, 100);
      };
      check();
    });
  }

  /** The pid of the process labelled so, as last started. */
  pidOf(label: string): number {
    const all = [...this.output.matchAll(/mnsim cluster: (\S+) started \(pid (\d+)\)/g)];
    const m = all.filter(([, l]) => l === label).pop();
    if (!m) throw new Error(`${label} never started: ${this.lines().join('\n')}`);
    return Number(m[2]);
  }

  /** every pid the supervisor started */
  pids(): number[] {
    return [...this.output.matchAll(/mnsim cluster: \S+ started \(pid (\d+)\)/g)].map((m) =>
      Number(m[1]),
    );
  }

  /** What a test left running of it, gone before its queue prefix and schema are dropped. */
  async kill(): Promise<void> {
    killGroup(this.child);
    await this.exited;
    for (const pid of this.pids()) if (alive(pid)) process.kill(pid, 'SIGKILL');
    await gone(this.pids(), 5_000);
  }

  /** Resolves once process `pid` logged that it serves its queues. */
  serving(pid: number, ms = 60_000): Promise<RegExpMatchArray> {
    return this.seen(
      new RegExp(`"pid":${pid},[^\\n]*"message":"serving"`),
      `serving of ${pid}`,
      ms,
    );
  }
}

/** `mnsim fuzz --runs N --seed 11 --json`, embedded or against a cluster; bounded in time. */
async function fuzz(
  runs: number,
  on: { env: Env } | { sqlitePath: string },
  ms: number,
): Promise<{ code: number | null; summary: { campaignHash: string; violations: number } }> {
  const args = [CLI, 'fuzz', '--runs', String(runs), '--seed', '11', '--json'];
  const env: NodeJS.ProcessEnv =
    'env' in on
      ? {
          PATH: process.env.PATH,
          MNSIM_REDIS_URL: REDIS_URL,
          MNSIM_DATABASE_URL: DATABASE_URL,
          MNSIM_DATABASE_SCHEMA: on.env.schema,
          MNSIM_QUEUE_PREFIX: on.env.prefix,
        }
      : { PATH: process.env.PATH, MNSIM_SQLITE_PATH: on.sqlitePath };
  if ('env' in on) args.push('--distributed');
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  const code = await new Promise<number | null>((r) => child.once('close', (c) => r(c)));
  clearTimeout(timer);
  if (!out.trim()) throw new Error(`fuzz printed nothing (exit ${code}): ${err.slice(-3000)}`);
  return { code, summary: JSON.parse(out) };
}

/** A query of one number over the test's schema. */
async function count(sql: string): Promise<number> {
  const c = new pg.Client({ connectionString: DATABASE_URL });
  await c.connect();
  try {
    const r = await c.query<{ n: string }>(sql);
    return Number(r.rows[0].n);
  } finally {
    await c.end();
  }
}

/**
 * For a campaign's failure message: why the failed runs in the test's schema failed, one line
 * each, and every line of the cluster's output that names one of them.
 */
async function failureDetails(env: Env, output: string): Promise<string> {
  const c = new pg.Client({ connectionString: DATABASE_URL });
  await c.connect();
  try {
    const r = await c.query<{ run_id: string; failure_reason: string | null }>(
      `SELECT run_id, failure_reason FROM "${env.schema}".runs WHERE status = 'failed'`,
    );
    const ids = r.rows.map((row) => row.run_id);
    const lines = output.split('\n').filter((l) => ids.some((id) => l.includes(id)));
    // the jobs of those runs still in a queue, in whatever state (completed ones are removed)
    const jobs: string[] = [];
    for (const queue of SERVED_QUEUES) {
      const q = env.bus.queue(queue);
      for (const state of ['active', 'wait', 'delayed', 'prioritized', 'failed'] as const) {
        for (const job of await q.getJobs([state], 0, 10_000)) {
          if (!ids.some((id) => job.id?.startsWith(id))) continue;
          const lock = await env.bus.redis.exists(`${env.prefix}:${queue}:${job.id}:lock`);
          jobs.push(
            `job ${queue} ${job.id} ${state} lock=${lock} attempts=${job.attemptsMade} ` +
              `stalled=${job.stalledCounter} processedOn=${job.processedOn} failed=${job.failedReason}`,
          );
        }
      }
    }
    return [...r.rows.map((row) => `${row.run_id}: ${row.failure_reason}`), ...lines, ...jobs]
      .join('\n')
      .slice(-8000);
  } finally {
    await c.end();
  }
}

/** The violations the auditors recorded in the test's schema. */
const storedViolations = (schema: string): Promise<number> =>
  count(`SELECT count(*) AS n FROM "${schema}".violations`);

/**
 * Resolves once `n` runs of the campaign completed: it is under way, and its first window of runs
 * (seed 11 uses every arch within its first 7) is past the client's check that every queue it
 * needs is served, which a process killed earlier would fail.
 */
async function underWay(schema: string, n: number, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  const sql = `SELECT count(*) AS n FROM "${schema}".runs WHERE status = 'completed'`;
  while ((await count(sql).catch(() => 0)) < n) {
    if (Date.now() > deadline) throw new Error(`not ${n} runs completed within ${ms / 1000} s`);
    await sleep(200);
  }
}

/** Whether nobody listens on `port` of the loopback right now. */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A port for the first api, the second taking the one above: both free now, at random so runs
 * side by side do not collide, and below Linux's ephemeral range (32768 and up), where any
 * outgoing connection of the machine may hold one of them.
 */
async function randomPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if ((await bindable(port)) && (await bindable(port + 1))) return port;
  }
}

/** The compose file's health check command of `service`, as docker runs it (CMD form). */
function composeHealthcheck(service: string): string[] {
  const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), {
    merge: true,
  }) as { services: Record<string, { healthcheck: { test: string[] } }> };
  const [form, ...cmd] = compose.services[service].healthcheck.test;
  expect(form).toBe('CMD');
  return cmd;
}

/** Runs a health check command with `env`: its exit status. */
function check(cmd: string[], env: NodeJS.ProcessEnv): Promise<number | null> {
  const [bin, ...args] = cmd;
  const child = spawn(bin === 'node' ? process.execPath : bin, args, { env, stdio: 'ignore' });
  return new Promise((r) => child.once('close', (c) => r(c)));
}

describe('the restart policy (scripts/supervisor.mjs)', () => {
  it('waits 1 s, then doubles the delay up to 30 s', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 20].map(backoffMs)).toEqual([
      1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000,
    ]);
    expect(BACKOFF_MAX_MS).toBe(30_000);
  });

  it('counts the restarts in a row of a process that keeps exiting', () => {
    let failures = 0;
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      const d = onUnexpectedExit({ code: 1, signal: null, upMs: 5_000 }, failures);
      if (d.action !== 'restart') throw new Error('not restarted');
      delays.push(d.delayMs);
      failures = d.failures;
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
  });

  it('starts over from 1 s once the process stayed up a minute', () => {
    const exit = { code: null, signal: 'SIGKILL' as const };
    expect(onUnexpectedExit({ ...exit, upMs: STABLE_AFTER_MS }, 6)).toEqual({
      action: 'restart',
      delayMs: 1000,
      failures: 1,
    });
    expect(onUnexpectedExit({ ...exit, upMs: STABLE_AFTER_MS - 1 }, 3)).toEqual({
      action: 'restart',
      delayMs: 8000,
      failures: 4,
    });
  });

  it('does not restart a process that exited with status 2 (bad configuration)', () => {
    expect(onUnexpectedExit({ code: 2, signal: null, upMs: 100 }, 0)).toEqual({ action: 'stop' });
    expect(onUnexpectedExit({ code: 2, signal: null, upMs: 3_600_000 }, 0)).toEqual({
      action: 'stop',
    });
    // any other status, or a signal, is a crash
    for (const [code, signal] of [
      [1, null],
      [3, null],
      [0, null],
      [null, 'SIGTERM'],
    ] as const) {
      expect(onUnexpectedExit({ code, signal, upMs: 100 }, 0).action).toBe('restart');
    }
  });

  it('says how a process exited', () => {
    expect(describeExit(1, null)).toBe('code 1');
    expect(describeExit(null, 'SIGKILL')).toBe('signal SIGKILL');
  });
});

describe('npm run cluster', () => {
  beforeAll(() => {
    if (!process.env.MNSIM_TEST_SKIP_BUILD) buildDist();
  }, 120_000);

  describe('with a bad configuration', () => {
    let env: Env;
    let cluster: Cluster | undefined;
    beforeAll(async () => {
      env = await testEnv('clusterbad');
    });
    afterAll(async () => {
      await cluster?.kill();
      await env?.cleanup();
    });

    it('exits 2 with the reason, restarts nothing and leaves no process behind', async () => {
      cluster = new Cluster([], {
        ...clusterEnv(env.prefix, env.schema),
        MNSIM_CONCURRENCY: 'abc',
      });
      const exit = await Promise.race([
        cluster.exited,
        sleep(60_000).then(() => ({ code: -1, signal: null })),
      ]);
      expect(exit, cluster.output).toEqual({ code: 2, signal: null });
      // one line that names the process and the reason, and no restart
      const lines = cluster.lines();
      const stops = lines.filter((l) => l.includes('stopping all'));
      expect(stops, lines.join('\n')).toHaveLength(1);
      expect(stops[0]).toMatch(
        /^mnsim cluster: \S+ exited with status 2, a bad configuration \(.*MNSIM_CONCURRENCY.*\); stopping all$/,
      );
      expect(lines.filter((l) => l.includes('restarting'))).toEqual([]);
      expect(cluster.pids()).toHaveLength(APPS);
      await gone(cluster.pids(), 1_000);
    }, 90_000);
  });

  /**
   * The 2-replica campaign: long enough to outlast the five kills, 2 s apart, that start once
   * five runs are under way (50 runs take about 25 s on a quiet machine and 45 s beside the rest
   * of the suite, the kills 10 s), and no longer: the suite has ten minutes.
   */
  const CAMPAIGN_RUNS = 50;

  describe('with 2 replicas', () => {
    let env: Env;
    let cluster: Cluster;
    let port: number;
    let embedded: { campaignHash: string; violations: number };
    let dir: string;
    beforeAll(async () => {
      env = await testEnv('cluster2');
      dir = mkdtempSync(join(tmpdir(), 'mnsim-cluster2-'));
      // the campaign's embedded twin, before the cluster takes the machine's two cores
      const e = await fuzz(CAMPAIGN_RUNS, { sqlitePath: join(dir, 'embedded.sqlite') }, 60_000);
      expect(e.code).toBe(0);
      embedded = e.summary;
      port = await randomPort();
      cluster = new Cluster(['--replicas', '2'], {
        ...clusterEnv(env.prefix, env.schema),
        MNSIM_API_PORT: String(port),
      });
      await cluster.seen(new RegExp(`("message":"serving"[^\\n]*\\n[^]*){${2 * APPS}}`), 'workers');
    }, 180_000);
    afterAll(async () => {
      await cluster?.kill();
      await env?.cleanup();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('starts 2 replicas of every worker and of the api, which see them all', async () => {
      expect(
        (
          await cluster.seen(
            /(\d+) processes \(2 replicas of each worker and of the api\)/,
            'summary',
          )
        )[1],
      ).toBe(String(2 * APPS));
      await cluster.seen(/listening on[^]*listening on/, 'both apis listening');
      const listening = cluster.output.split('\n').filter((line) => line.includes('listening on'));
      expect(listening).toHaveLength(2);
      // the apis log as the workers do: one JSON object a line; each on a port of its own
      const urls = listening.map((line) => {
        const parsed = JSON.parse(line) as { message: string };
        expect(parsed).toMatchObject({ level: 'log', context: 'api' });
        expect(parsed.message).toContain(`orchestrating the runs of queue prefix ${env.prefix}`);
        return /listening on (http:\/\/[^\s]+)/.exec(parsed.message)?.[1] ?? '';
      });
      expect(urls.map((u) => new URL(u).port).sort()).toEqual([String(port), String(port + 1)]);
      const url = urls[0];

      // the api reads the cluster's Redis: every queue has its two workers
      const metrics = await (await fetch(`${url}/metrics`)).text();
      const workers = [...metrics.matchAll(/^mnsim_queue_workers\{queue="([^"]+)"\} (\d+)$/gm)];
      expect(workers.length).toBeGreaterThanOrEqual(APPS + 1); // the api serves orchestrator, task
      for (const [, queue, n] of workers) {
        if (queue !== 'dead-letter') expect(Number(n), queue).toBe(2);
      }
      // and the cluster's Postgres (the schema of this test)
      expect((await fetch(`${url}/health`)).status).toBe(200);
      expect(await (await fetch(`${url}/health`)).json()).toMatchObject({
        status: 'ok',
        details: { store: { status: 'up', dialect: 'postgres' }, redis: { status: 'up' } },
      });
      // docker-compose.yml's health check of the api asks the same
      const api = composeHealthcheck('api');
      expect(await check(api, { PATH: process.env.PATH, MNSIM_API_PORT: String(port) })).toBe(0);
      expect(await check(api, { PATH: process.env.PATH, MNSIM_API_PORT: '1' })).not.toBe(0);
    }, 60_000);

    it('restarts one replica of each kind, killed in turn during a campaign, which ends as the embedded one', async () => {
      const t0 = Date.now();
      const campaign = fuzz(CAMPAIGN_RUNS, { env }, 150_000);
      let ended = false;
      void campaign.then(
        () => (ended = true),
        () => (ended = true),
      );
      // runs in flight on every queue first
      await underWay(env.schema, 5);
      const killed: Array<{ label: string; pid: number }> = [];
      for (const kind of KINDS) {
        const label = `${kind}#1`;
        const pid = cluster.pidOf(label);
        process.kill(pid, 'SIGKILL');
        killed.push({ label, pid });
        await sleep(2_000);
      }
      expect(ended, 'the campaign was still running when the last process was killed').toBe(false);

      const { code, summary } = await campaign;
      const secs = (Date.now() - t0) / 1000;
      const why = code === 0 ? '' : await failureDetails(env, cluster.output);
      expect(code, why).toBe(0);
      expect(summary).toMatchObject({
        runs: CAMPAIGN_RUNS,
        completed: CAMPAIGN_RUNS,
        failed: 0,
      });
      expect(summary.campaignHash).toBe(embedded.campaignHash);
      expect(summary.violations).toBe(embedded.violations);
      // every violation recorded once by the auditors, the killed one's included
      expect(await storedViolations(env.schema)).toBe(embedded.violations);

      // one line each: which process, how it exited, the delay; then it was started again
      for (const { label, pid } of killed) {
        const restarts = cluster
          .lines()
          .filter((l) => l.startsWith(`mnsim cluster: ${label} (pid ${pid}) exited`));
        expect(restarts, label).toEqual([
          expect.stringMatching(/exited \(signal SIGKILL\) after [\d.]+ s; restarting in 1 s$/),
        ]);
        const again = cluster.pidOf(label);
        expect(again, label).not.toBe(pid);
        await cluster.serving(again);
      }
      console.log(
        `2 replicas: ${CAMPAIGN_RUNS} runs with 5 processes killed in ${secs.toFixed(1)} s`,
      );
    }, 180_000);

    it('stops on SIGTERM: exit 0, and every process it started is gone', async () => {
      const pids = cluster.pids();
      expect(pids.length).toBe(2 * APPS + KINDS.length);
      cluster.child.kill('SIGTERM');
      expect(await cluster.exited).toEqual({ code: 0, signal: null });
      await gone(pids, 1_000);
    }, 30_000);
  });

  describe('with 1 replica', () => {
    let env: Env;
    let cluster: Cluster;
    let embedded: { campaignHash: string };
    let dir: string;
    const RUNS = 100;
    beforeAll(async () => {
      env = await testEnv('cluster1');
      dir = mkdtempSync(join(tmpdir(), 'mnsim-cluster1-'));
      const e = await fuzz(RUNS, { sqlitePath: join(dir, 'embedded.sqlite') }, 60_000);
      expect(e.code).toBe(0);
      embedded = e.summary;
      cluster = new Cluster([], clusterEnv(env.prefix, env.schema));
      await cluster.seen(new RegExp(`("message":"serving"[^\\n]*\\n[^]*){${APPS}}`), 'workers');
    }, 180_000);
    afterAll(async () => {
      await cluster?.kill();
      await env?.cleanup();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('restarts each kind of process, killed in turn during a campaign, which ends as the embedded one', async () => {
      const campaign = fuzz(RUNS, { env }, 150_000);
      let ended = false;
      void campaign.then(
        () => (ended = true),
        () => (ended = true),
      );
      await underWay(env.schema, 5);
      const restartSecs: string[] = [];
      for (const label of KINDS) {
        const pid = cluster.pidOf(label);
        const killedAt = Date.now();
        process.kill(pid, 'SIGKILL');
        const line = `mnsim cluster: ${label} (pid ${pid}) exited (signal SIGKILL)`;
        await cluster.seen(
          new RegExp(`${line.replace(/[()]/g, '\\$&')}.*restarting in 1 s\\n`),
          line,
        );
        await cluster.seen(
          new RegExp(`mnsim cluster: ${label} started \\(pid (?!${pid}\\))`),
          label,
        );
        await cluster.serving(cluster.pidOf(label));
        restartSecs.push(`${label} ${((Date.now() - killedAt) / 1000).toFixed(1)} s`);
      }
      expect(ended, 'the campaign was still running when the last process was killed').toBe(false);
      const { code, summary } = await campaign;
      const why = code === 0 ? '' : await failureDetails(env, cluster.output);
      expect(code, why).toBe(0);
      expect(summary).toMatchObject({ runs: RUNS, completed: RUNS, failed: 0 });
      expect(summary.campaignHash).toBe(embedded.campaignHash);
      console.log(`1 replica, SIGKILL to serving again: ${restartSecs.join(', ')}`);
    }, 180_000);

    it('leaves no process behind when the supervisor itself is killed', async () => {
      const pids = cluster.pids();
      process.kill(cluster.child.pid ?? 0, 'SIGKILL');
      await cluster.exited;
      // each sees its channel to the supervisor close and stops as on SIGTERM
      await gone(pids, 20_000);
    }, 30_000);
  });

  describe("docker-compose.yml's health check of a worker", () => {
    let env: Env;
    let dir: string;
    let worker: Worker | null = null;
    beforeAll(async () => {
      env = await testEnv('heartbeat');
      dir = mkdtempSync(join(tmpdir(), 'mnsim-heartbeat-'));
    });
    afterAll(async () => {
      await worker?.kill();
      await env?.cleanup();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('passes while the worker serves, and fails once it stops or its file is stale', async () => {
      const file = join(dir, 'heartbeat');
      const cmd = composeHealthcheck('mmu-notifier');
      const probe = (): Promise<number | null> =>
        check(cmd, { PATH: process.env.PATH, MNSIM_HEARTBEAT_FILE: file });
      expect(await probe()).not.toBe(0);
      worker = new Worker(
        { name: 'mmu-notifier', app: 'mmu-notifier' },
        { ...clusterEnv(env.prefix, env.schema), MNSIM_HEARTBEAT_FILE: file },
      );
      await worker.start();
      const deadline = Date.now() + 10_000;
      while ((await probe()) !== 0) {
        if (Date.now() > deadline) throw new Error(`no heartbeat: ${worker.output}`);
        await sleep(200);
      }
      await worker.kill('SIGTERM');
      worker = null;
      // a stopping worker removes its file
      expect(() => readFileSync(file)).toThrow();
      expect(await probe()).not.toBe(0);
      // one older than the check allows: a worker that no longer beats (its Redis is gone)
      writeFileSync(file, '');
      expect(await probe()).toBe(0);
      const old = new Date(Date.now() - HEARTBEAT_MAX_AGE_MS - 5_000);
      utimesSync(file, old, old);
      expect(await probe()).not.toBe(0);
    }, 60_000);
  });
});
