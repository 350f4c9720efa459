/**
 * Distributed throughput, the design's `distributed` part: a campaign of generated scenarios run
 * end to end (step in → violation recorded in Postgres) on real worker processes from dist/, with
 * 1 and with 2 replicas of every worker, in ranges (kvm_unmap_hva_range calls, counted by the
 * embedded engine for the same scenarios) per second of wall time from the first submit to the
 * last outcome. The workers are warmed up first by the same campaign (`warmups` times, other run
 * ids): a cluster serves for hours, and a worker just started runs its code cold (V8 compiles
 * it as it goes). Then it is measured `rounds` times (default 2) and the faster kept, as each
 * ceiling below is: a round of a few seconds on a shared machine can meet a burst from elsewhere,
 * and the best of several errs the same way for the campaign and for its ceilings. The job hops are counted exactly:
 * every job the cluster's queues processed during the measured round, from BullMQ's completed
 * metrics (a healthy campaign has no timeout jobs: the orchestrators sweep chain deadlines
 * instead).
 *
 * The ceiling, measured in the same run: a trivial processor on the same queues, one worker per
 * queue with the workers' concurrency, as many chains in flight as runs, each hop adding the next
 * job (to the next queue) and returning, for the same number of hops; measured twice (between
 * the campaigns, after them) and the faster kept. ratio = campaign hops/s with 1 replica (the
 * same layout: one worker per queue) / ceiling hops/s. The same trivial chains are also run in
 * the cluster's process layout (warmed up the same way): ratioClusterLayout; and the ratio of the
 * two ceilings, ratioLayoutBound, is the most `ratio` could be with workers that cost nothing.
 *
 * Needs `npm run build` (the workers run from dist/), Redis and Postgres. Leaves nothing behind: a
 * queue prefix and a Postgres schema of its own, removed at the end.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { Scenario } from '@mnsim/kernel';
import { NO_RUN_LIMITS } from '@mnsim/events';
import { simulate } from '@mnsim/engine';
import { generateScenario } from '@mnsim/scenarios';
import { openStore } from '@mnsim/store';
import { chainDoneChannel, hopJobId } from './trivial-worker.js';
import { type RoundCpu, cpuBetween, readCpu } from './cpu-usage.js';
import { benchSandbox, dropPrefix } from './cleanup.js';
import {
  Bus,
  CLUSTER_PROCESSES,
  DEFAULT_JOB_OPTIONS,
  DEFAULT_LOCK_DURATION_MS,
  DEFAULT_STALLED_INTERVAL_MS,
  DistributedClient,
  SERVED_QUEUES,
  WORKER_CONCURRENCY,
} from '@mnsim/bus';

/** dist/bench/src → the repository root (its dist/apps/… holds the workers) */
const DIST = join(import.meta.dirname, '../../..');

/** Every queue the cluster serves (topology.ts): the campaign's hops are counted on them. */
const QUEUES = SERVED_QUEUES;

/** The processes of one replica (topology.ts), started as `npm run cluster` starts them. */
const SERVICES = CLUSTER_PROCESSES.map((p) => ({
  app: p.app.name,
  entry: p.app.entry,
  // the api is the orchestrator; its HTTP side idles on a free port
  env: { ...p.env, ...(p.app.listens ? { MNSIM_API_PORT: '0' } : {}) },
}));

export interface DistributedBenchOptions {
  /** runs of the campaign, all in flight at once; default 30 */
  runs?: number;
  /** steps per generated scenario; default 20 */
  steps?: number;
  seed?: number;
  /** MNSIM_CONCURRENCY of every worker, and of the ceiling's; default the services' (32) */
  concurrency?: number;
  redisUrl?: string;
  databaseUrl?: string;
  /** a run that has not completed after this fails the benchmark; default 120 s */
  timeoutMs?: number;
  /**
   * campaigns (and trivial rounds) run to warm the processes up before the measured ones; default
   * 8 (where the campaign's time stops falling on a 2-core machine)
   */
  warmups?: number;
  /**
   * measured rounds of each campaign and of the layout ceiling, after the warm-ups, the faster
   * kept; default 2
   */
  rounds?: number;
  log?: (msg: string) => void;
}

export interface DistributedBenchResult {
  rangesPerSec1: number;
  rangesPerSec2: number;
  /** the faster of bullmqCeilingRunsPerSec */
  bullmqCeilingPerSec: number;
  /** the ceiling measured between the campaigns and after them */
  bullmqCeilingRunsPerSec: number[];
  /** hopsPerSec1 / bullmqCeilingPerSec: one worker per queue in both */
  ratio: number;
  runs: number;
  ranges: number;
  /** job hops of one campaign (1 replica): the jobs its queues processed (BullMQ's metrics) */
  hops: number;
  hopsPerSec1: number;
  hopsPerSec2: number;
  ratio2: number;
  /** the same trivial chains served by one process per mnsim app (bench/src/trivial-worker.ts) */
  bullmqCeilingClusterLayoutPerSec: number;
  /** its measured rounds, after the warm-ups; the faster is bullmqCeilingClusterLayoutPerSec */
  bullmqCeilingClusterLayoutRunsPerSec: number[];
  /** hopsPerSec1 / bullmqCeilingClusterLayoutPerSec: the same process layout in both */
  ratioClusterLayout: number;
  /**
   * bullmqCeilingClusterLayoutPerSec / bullmqCeilingPerSec: what the process layout alone costs,
   * and so the most `ratio` could be if the workers' own work cost nothing
   */
  ratioLayoutBound: number;
  /** the measured campaigns (the fastest round), on workers warmed up by the same campaign */
  secs1: number;
  secs2: number;
  /** every measured round of each */
  secs1Runs: number[];
  secs2Runs: number[];
  /** the warm-up campaigns, on workers just started */
  coldSecs1: number;
  coldSecs2: number;
  ceilingSecs: number;
  events: number;
  /** call×2 + stimuli×2 from simulate's events: the lower bound the protocol implies */
  hopsEstimate: number;
  /** hops per queue (1 replica) */
  hopsByQueue: Record<string, number>;
  /** Redis bytes in per hop, 1 and 2 replicas (see CampaignResult) */
  redisBytesInPerHop1: number;
  redisBytesInPerHop2: number;
  /**
   * Redis bytes in per hop of the ceiling's trivial chains (the smaller of its two measured
   * runs): what BullMQ itself sends for a hop (add, fetch, complete, with their keys), and so
   * the least a hop of the campaign could cost on BullMQ
   */
  bullmqBytesInPerHop: number;
  /**
   * The fastest round's CPU, with 1 and 2 replicas: each app's CPU seconds (its processes and
   * replicas together) and the share of the machine's CPU time that was busy, and stolen by the
   * hypervisor (null without Linux's /proc). A machine busy near 1 is one the campaign saturates.
   */
  cpu1: CampaignCpu | null;
  cpu2: CampaignCpu | null;
}

/** A campaign round's CPU: RoundCpu and the workers' CPU milliseconds per hop. */
interface CampaignCpu extends RoundCpu {
  workerCpuMsPerHop: number;
}

function campaignCpu(c: CampaignResult): CampaignCpu | null {
  if (!c.cpu) return null;
  const workerSecs = Object.values(c.cpu.byApp).reduce((a, b) => a + b, 0);
  return { ...c.cpu, workerCpuMsPerHop: Number(((1000 * workerSecs) / c.hops).toFixed(3)) };
}

interface Case {
  scenario: Scenario;
  ranges: number;
  events: number;
  logHash: string;
  calls: number;
  stimuli: number;
}

interface CampaignResult {
  /** the faster measured round, on warm workers */
  secs: number;
  /** every measured round */
  secsRuns: number[];
  /** the first warm-up campaign, on the workers as they started (not measured) */
  coldSecs: number;
  hops: number;
  byQueue: Record<string, number>;
  /**
   * Bytes Redis took in (INFO stats total_net_input_bytes) over the faster round, per hop: every
   * command of every process, the benchmark's own (submits, polling) included. The Redis server
   * is shared, so another client's traffic would count too: the bench's Redis should be its own.
   */
  redisBytesInPerHop: number;
  /** the CPU the faster round cost (null without /proc) */
  cpu: RoundCpu | null;
}

function seconds(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function campaign(seed: number, runs: number, steps: number): Case[] {
  const out: Case[] = [];
  for (let i = 0; i < runs; i++) {
    const { scenario } = generateScenario(seed, i, { mix: 'invalidations', steps });
    let calls = 0;
    let stimuli = 0;
    // its twin on the cluster is held only to MNSIM_MAX_RUN_EVENTS (the cluster does not count
    // bytes): a generated run may pass 4 MiB of log, which the default limits would refuse here
    const r = simulate(scenario, {
      keepKernelLog: false,
      limits: NO_RUN_LIMITS,
      onEvent: (e) => {
        if (e.type === 'call') calls++;
        else if (e.type === 'step' || e.type === 'timer') stimuli++;
      },
    });
    const logHash = r.logHash ?? '';
    out.push({ scenario, ranges: r.ranges, events: r.events, logHash, calls, stimuli });
  }
  return out;
}

/** How long a worker may take to say it serves its queues before the benchmark gives up. */
const WORKER_START_MS = 60_000;

/**
 * Extra node options for every process the benchmark starts, e.g. `--cpu-prof
 * --cpu-prof-dir=DIR` to profile the workers (node refuses --cpu-prof in NODE_OPTIONS).
 */
const WORKER_NODE_ARGS = (process.env.MNSIM_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);

/** Starts one worker app; resolves once it logs (Nest's JSON logger) that it serves. */
function startWorker(
  s: { app: string; entry: string },
  env: NodeJS.ProcessEnv,
): Promise<ChildProcess> {
  return startProcess(join(DIST, s.entry), s.app, env, '"message":"serving"');
}

/** Starts a node script; resolves once its output holds `ready`. */
function startProcess(
  script: string,
  app: string,
  env: NodeJS.ProcessEnv,
  ready: string,
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...WORKER_NODE_ARGS, script], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`${app} did not start within ${WORKER_START_MS} ms: ${output.slice(-2000)}`),
      );
    }, WORKER_START_MS);
    const onData = (d: Buffer): void => {
      if (output.length < 100_000) output += d.toString();
      if (output.includes(ready)) {
        clearTimeout(timer);
        output = '';
        resolve(child);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${app} exited ${code}: ${output.slice(-2000)}`)));
  });
}

/**
 * Runs `starts` a few at a time (Nest and TypeORM take a moment each on two cores). Every process
 * that started is in `children`, for the caller to stop, even when another failed to start.
 */
async function startInBatches(
  starts: Array<() => Promise<ChildProcess>>,
  children: ChildProcess[],
): Promise<void> {
  for (let i = 0; i < starts.length; i += 4) {
    const started = await Promise.allSettled(starts.slice(i, i + 4).map((start) => start()));
    for (const r of started) if (r.status === 'fulfilled') children.push(r.value);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

function stopWorkers(children: ChildProcess[]): Promise<unknown> {
  return Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          const kill = setTimeout(() => c.kill('SIGKILL'), 10_000);
          c.on('exit', () => {
            clearTimeout(kill);
            resolve();
          });
          c.kill('SIGTERM');
        }),
    ),
  );
}

/**
 * The jobs every queue of a prefix processed: BullMQ's completed count, which every mnsim worker
 * keeps (the API's /metrics reads it). Read after the campaign, so counting adds no load to it.
 */
async function countProcessed(bus: Bus): Promise<Record<string, number>> {
  const counts = await Promise.all(
    QUEUES.map(async (q) => [q, (await bus.queue(q).getMetrics('completed', 0, 0)).meta.count]),
  );
  return Object.fromEntries(counts) as Record<string, number>;
}

async function runCampaign(
  cases: Case[],
  replicas: number,
  o: Required<DistributedBenchOptions>,
): Promise<CampaignResult> {
  const tag = `${replicas}r_${randomBytes(4).toString('hex')}`;
  const box = benchSandbox(tag, o.redisUrl, o.databaseUrl);
  const { prefix, schema } = box;
  const env: NodeJS.ProcessEnv = { ...box.env, MNSIM_CONCURRENCY: String(o.concurrency) };
  const store = await openStore({ url: o.databaseUrl, schema });
  const bus = new Bus({ redisUrl: o.redisUrl, prefix });
  const children: ChildProcess[] = [];
  try {
    const specs = SERVICES.flatMap((s) => Array.from({ length: replicas }, () => s));
    o.log(`  starting ${specs.length} worker processes…`);
    await startInBatches(
      specs.map((s) => () => startWorker(s, { ...env, ...s.env })),
      children,
    );
    const client = new DistributedClient(bus);
    const workers = children.map((c, i) => ({ pid: c.pid, app: specs[i].app }));
    /**
     * Runs every case once (run ids `bench-<tag>-<round>-<i>`): its wall time from submit to end,
     * and the CPU time the workers and the machine spent meanwhile.
     */
    const round = async (name: string): Promise<{ secs: number; cpu: RoundCpu | null }> => {
      const ids = cases.map((_, i) => `bench-${tag}-${name}-${i}`);
      // the runs' rows exist before the clock starts, as `mnsim run --distributed` creates them
      await Promise.all(
        cases.map((c, i) =>
          store.createRun({
            runId: ids[i],
            scenario: c.scenario.name,
            kernel: c.scenario.kernel,
            arch: c.scenario.host.arch,
            seed: c.scenario.seed,
            source: null,
          }),
        ),
      );
      o.log(`  ${name}: ${cases.length} runs in flight…`);
      const cpu0 = readCpu(workers);
      const t0 = process.hrtime.bigint();
      const outcomes = await Promise.all(
        cases.map(async (c, i) => {
          const opts = { kernel: c.scenario.kernel, seed: c.scenario.seed, timeoutMs: o.timeoutMs };
          await client.submit(ids[i], c.scenario, opts);
          return client.wait(ids[i]);
        }),
      );
      const secs = seconds(t0);
      const cpu = cpuBetween(cpu0, readCpu(workers));
      o.log(
        `  every run ended after ${secs.toFixed(2)} s; checking them against the embedded runs…`,
      );
      // every run completed, equal to its embedded twin, its violations in Postgres
      for (let i = 0; i < cases.length; i++) {
        const out = outcomes[i];
        const label = `${cases[i].scenario.name} (${ids[i]})`;
        if (out.status !== 'completed') throw new Error(`${label}: ${out.failureReason}`);
        if (out.logHash !== cases[i].logHash) throw new Error(`${label}: logHash differs`);
        const row = await store.getRun(ids[i]);
        if (row?.events !== cases[i].events) throw new Error(`${label}: ${row?.events} events`);
      }
      // the auditor's finish job completes just after it announces the outcome
      await new Promise((r) => setTimeout(r, 500));
      return { secs, cpu };
    };
    // Workers that just started run their code cold (V8 compiles it as it goes: a quarter of
    // their CPU in the first campaign, measured with perf); a cluster serves for hours. The same
    // campaign runs `warmups` times to warm them up, then once measured.
    let coldSecs: number | null = null;
    for (let w = 1; w <= o.warmups; w++) {
      const { secs } = await round(`warm-up-${w}`);
      coldSecs ??= secs;
    }
    // the rounds' hops are counted apart: a redelivery would make one round's larger
    const measured: Array<Omit<CampaignResult, 'coldSecs' | 'secsRuns'>> = [];
    for (let m = 1; m <= o.rounds; m++) {
      const before = await countProcessed(bus);
      const bytesBefore = await redisBytesIn(bus.redis);
      const { secs, cpu } = await round(`measured-${m}`);
      const bytesAfter = await redisBytesIn(bus.redis);
      const after = await countProcessed(bus);
      const byQueue = Object.fromEntries(QUEUES.map((q) => [q, after[q] - before[q]]));
      const hops = Object.values(byQueue).reduce((a, b) => a + b, 0);
      const redisBytesInPerHop = Math.round((bytesAfter - bytesBefore) / Math.max(1, hops));
      measured.push({ secs, hops, byQueue, redisBytesInPerHop, cpu });
    }
    const best = measured.reduce((a, b) => (b.hops / b.secs > a.hops / a.secs ? b : a));
    return { ...best, secsRuns: measured.map((m) => m.secs), coldSecs: coldSecs ?? best.secs };
  } finally {
    await stopWorkers(children);
    await bus.close();
    await store.close();
    await box.drop();
  }
}

/** Redis's total_net_input_bytes: what every client has sent it since it started. */
async function redisBytesIn(redis: Redis): Promise<number> {
  const info = await redis.info('stats');
  const m = /^total_net_input_bytes:(\d+)/m.exec(info);
  if (m === null) throw new Error('INFO stats has no total_net_input_bytes');
  return Number(m[1]);
}

/**
 * The raw BullMQ rate: `hops` jobs over `queues`, one worker per queue with `concurrency`,
 * `chains` in flight; each processor adds the chain's next job (to the next queue) and returns.
 * Its seconds, and the bytes Redis got per hop meanwhile.
 */
async function bullmqCeiling(
  redisUrl: string,
  queues: readonly string[],
  hops: number,
  chains: number,
  concurrency: number,
): Promise<{ secs: number; bytesInPerHop: number }> {
  const prefix = `mnsimbench-ceil_${randomBytes(4).toString('hex')}`;
  const conn = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const qs = queues.map(
    (name) => new Queue(name, { connection: conn, prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS }),
  );
  let added = 0;
  let processed = 0;
  let finished!: () => void;
  let failed!: (err: Error) => void;
  const done = new Promise<void>((resolve, reject) => {
    finished = resolve;
    failed = reject;
  });
  const hop = async (chain: number, k: number): Promise<void> => {
    if (added >= hops) return;
    added++;
    await qs[(chain + k) % qs.length].add(
      'hop',
      { chain, k },
      { ...DEFAULT_JOB_OPTIONS, jobId: `c${chain}-${k}` },
    );
  };
  const workerConnections: Redis[] = [];
  const workers = queues.map((name) => {
    const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    workerConnections.push(connection);
    const w = new Worker(
      name,
      async (job) => {
        const { chain, k } = job.data as { chain: number; k: number };
        await hop(chain, k + 1);
        if (++processed >= hops) finished();
      },
      {
        connection,
        prefix,
        concurrency,
        lockDuration: DEFAULT_LOCK_DURATION_MS,
        stalledInterval: DEFAULT_STALLED_INTERVAL_MS,
        maxStalledCount: 1000,
      },
    );
    w.on('failed', (_job, err) => failed(err));
    return w;
  });
  try {
    await Promise.all(workers.map((w) => w.waitUntilReady()));
    const bytes0 = await redisBytesIn(conn);
    const t0 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: chains }, (_, c) => hop(c, 0)));
    await done;
    const secs = seconds(t0);
    return { secs, bytesInPerHop: Math.round(((await redisBytesIn(conn)) - bytes0) / hops) };
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    await Promise.all(qs.map((q) => q.close()));
    for (const c of workerConnections) c.disconnect();
    conn.disconnect();
    await dropPrefix(redisUrl, prefix);
  }
}

/** The queues each process of the cluster serves: the ceiling in the cluster's layout mirrors it. */
const APP_QUEUES: Record<string, string[]> = Object.fromEntries(
  CLUSTER_PROCESSES.map((p) => [p.name, p.queues.map((q) => q.queue)]),
);

/**
 * The same trivial chains as bullmqCeiling, served in the cluster's process layout: one process
 * per mnsim app (1 replica), each serving that app's queues (bench/src/trivial-worker.ts). Set
 * beside the in-process ceiling, it tells the cost of the layout (processes, context switches on
 * shared cores) from the cost of what the mnsim workers do per hop. Like the campaign, the
 * chains run on the processes `warmups` times to warm them up, then `rounds` times measured; the
 * seconds of each measured round.
 */
async function bullmqCeilingClusterLayout(
  redisUrl: string,
  hops: number,
  chains: number,
  concurrency: number,
  warmups: number,
  rounds: number,
): Promise<number[]> {
  const prefix = `mnsimbench-ceilp_${randomBytes(4).toString('hex')}`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    MNSIM_REDIS_URL: redisUrl,
    MNSIM_QUEUE_PREFIX: prefix,
    MNSIM_CONCURRENCY: String(concurrency),
    BENCH_QUEUES: QUEUES.join(','),
    BENCH_HOPS: String(hops),
    BENCH_CHAINS: String(chains),
  };
  const script = join(DIST, 'dist/bench/src/trivial-worker.js');
  const bus = new Bus({ redisUrl, prefix });
  const subscriber = new Redis(redisUrl);
  const children: ChildProcess[] = [];
  try {
    await startInBatches(
      Object.entries(APP_QUEUES).map(
        ([app, queues]) =>
          () =>
            startProcess(script, app, { ...env, BENCH_SERVE: queues.join(',') }, 'serving'),
      ),
      children,
    );
    const finished = new Map<number, number>();
    let roundDone: ((round: number) => void) | null = null;
    subscriber.on('message', (_channel: string, message: string) => {
      const round = Number(message);
      const n = (finished.get(round) ?? 0) + 1;
      finished.set(round, n);
      if (n === chains) roundDone?.(round);
    });
    await subscriber.subscribe(chainDoneChannel(prefix));
    const runRound = async (round: number): Promise<number> => {
      let timer: NodeJS.Timeout | undefined;
      const done = new Promise<void>((resolve, reject) => {
        roundDone = (r) => r === round && resolve();
        timer = setTimeout(() => {
          const n = finished.get(round) ?? 0;
          reject(new Error(`ceiling: ${n} of ${chains} chains done in 120 s`));
        }, 120_000);
      });
      const t0 = process.hrtime.bigint();
      await bus.send(
        Array.from({ length: chains }, (_, chain) => ({
          queue: QUEUES[chain % QUEUES.length],
          name: 'hop',
          jobId: hopJobId(round, chain, 0),
          data: { round, chain, k: 0 },
        })),
      );
      await done.finally(() => clearTimeout(timer));
      return seconds(t0);
    };
    for (let round = 0; round < warmups; round++) await runRound(round);
    const secs: number[] = [];
    for (let round = warmups; round < warmups + rounds; round++) secs.push(await runRound(round));
    return secs;
  } finally {
    await stopWorkers(children);
    subscriber.disconnect();
    await bus.close();
    await dropPrefix(redisUrl, prefix);
  }
}

export async function benchDistributed(
  opts: DistributedBenchOptions = {},
): Promise<DistributedBenchResult> {
  const o: Required<DistributedBenchOptions> = {
    runs: 30,
    steps: 20,
    seed: 2020,
    concurrency: WORKER_CONCURRENCY.default,
    redisUrl: 'redis://127.0.0.1:6379',
    databaseUrl: 'postgres://postgres@127.0.0.1:5432/test',
    timeoutMs: 120_000,
    warmups: 8,
    rounds: 2,
    log: () => {},
    ...opts,
  };
  for (const s of SERVICES) {
    if (!existsSync(join(DIST, s.entry))) {
      throw new Error(`${s.entry} is missing: run npm run build first`);
    }
  }
  o.log(`distributed: ${o.runs} generated scenarios (seed ${o.seed}, ${o.steps} steps each)…`);
  const cases = campaign(o.seed, o.runs, o.steps);
  const ranges = cases.reduce((n, c) => n + c.ranges, 0);
  const events = cases.reduce((n, c) => n + c.events, 0);
  const hopsEstimate = cases.reduce((n, c) => n + 2 * c.calls + 2 * c.stimuli, 0);
  o.log('distributed, 1 replica per worker…');
  const one = await runCampaign(cases, 1, o);
  o.log(`  ${ranges} ranges, ${one.hops} hops in ${one.secs.toFixed(2)} s`);
  // The ceiling is measured twice, between the campaigns and after them, and the faster taken:
  // a run of a few seconds is the most exposed to a burst from elsewhere on a shared machine,
  // and the faster one is the nearer to what BullMQ can do here (so the ratio errs low). Its
  // code is warmed up first as the workers' is, by as many unmeasured rounds.
  const measureCeiling = async (): Promise<{ secs: number; bytesInPerHop: number }> => {
    o.log(`raw BullMQ: ${one.hops} hops over ${QUEUES.length} queues, trivial processor…`);
    return bullmqCeiling(o.redisUrl, QUEUES, one.hops, o.runs, o.concurrency);
  };
  for (let w = 1; w <= o.warmups; w++) {
    o.log(`  warm-up ${w} of the ceiling: ${(await measureCeiling()).secs.toFixed(2)} s`);
  }
  const ceilingA = await measureCeiling();
  const ceilingSecsA = ceilingA.secs;
  o.log('distributed, 2 replicas per worker…');
  const two = await runCampaign(cases, 2, o);
  o.log(`  ${ranges} ranges, ${two.hops} hops in ${two.secs.toFixed(2)} s`);
  const ceilingB = await measureCeiling();
  const ceilingSecsB = ceilingB.secs;
  const ceilingSecs = Math.min(ceilingSecsA, ceilingSecsB);
  const ceiling = one.hops / ceilingSecs;
  o.log(`raw BullMQ in the cluster's process layout: ${one.hops} hops, trivial processor…`);
  const layoutRuns = await bullmqCeilingClusterLayout(
    o.redisUrl,
    one.hops,
    o.runs,
    o.concurrency,
    o.warmups,
    o.rounds,
  );
  const layoutCeiling = one.hops / Math.min(...layoutRuns);
  const hopsPerSec1 = one.hops / one.secs;
  const hopsPerSec2 = two.hops / two.secs;
  return {
    rangesPerSec1: Math.round(ranges / one.secs),
    rangesPerSec2: Math.round(ranges / two.secs),
    bullmqCeilingPerSec: Math.round(ceiling),
    bullmqCeilingRunsPerSec: [ceilingSecsA, ceilingSecsB].map((t) => Math.round(one.hops / t)),
    ratio: Number((hopsPerSec1 / ceiling).toFixed(3)),
    runs: o.runs,
    ranges,
    hops: one.hops,
    hopsPerSec1: Math.round(hopsPerSec1),
    hopsPerSec2: Math.round(hopsPerSec2),
    ratio2: Number((hopsPerSec2 / ceiling).toFixed(3)),
    bullmqCeilingClusterLayoutPerSec: Math.round(layoutCeiling),
    bullmqCeilingClusterLayoutRunsPerSec: layoutRuns.map((t) => Math.round(one.hops / t)),
    ratioClusterLayout: Number((hopsPerSec1 / layoutCeiling).toFixed(3)),
    ratioLayoutBound: Number((layoutCeiling / ceiling).toFixed(3)),
    secs1: Number(one.secs.toFixed(2)),
    secs2: Number(two.secs.toFixed(2)),
    secs1Runs: one.secsRuns.map((t) => Number(t.toFixed(2))),
    secs2Runs: two.secsRuns.map((t) => Number(t.toFixed(2))),
    coldSecs1: Number(one.coldSecs.toFixed(2)),
    coldSecs2: Number(two.coldSecs.toFixed(2)),
    ceilingSecs: Number(ceilingSecs.toFixed(2)),
    events,
    hopsEstimate,
    hopsByQueue: one.byQueue,
    redisBytesInPerHop1: one.redisBytesInPerHop,
    redisBytesInPerHop2: two.redisBytesInPerHop,
    bullmqBytesInPerHop: Math.min(ceilingA.bytesInPerHop, ceilingB.bytesInPerHop),
    cpu1: campaignCpu(one),
    cpu2: campaignCpu(two),
  };
}
