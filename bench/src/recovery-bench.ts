/**
 * Recovery (the design's `distributed.recoverySecs`): how long the runs a killed worker held wait
 * before they move again. The cluster is `npm run cluster` itself (scripts/cluster.mjs, the
 * supervisor that restarts a process that exits), with 2 replicas of every worker and with 1,
 * on the workers' default lock and stalled-check settings, under a steady load of runs in flight.
 * One worker of each kind that every run needs (mmu-notifier, oom-killer, auditor) is SIGKILLed
 * in turn; for each kill:
 *  - `secs`: from the SIGKILL until every job the killed worker's queue had active at that moment
 *    has completed (the kill waits until every replica holds one): those of the killed worker
 *    were taken over, by the other replica or by the restarted process, once their lock expired;
 *  - `firstJobSecs`: until the killed worker's queue completed its first job again (with 2
 *    replicas the other one barely pauses; with 1 it includes the restart);
 *  - `restartedSecs`: until the supervisor's new process for it serves (backoff and start-up).
 * `recoverySecs.replicas2` and `.replicas1` are the slowest kill of each: the goal is under 10 s.
 *
 * MNSIM_LOCK_DURATION_MS and MNSIM_STALLED_INTERVAL_MS, when set, are given to the cluster (to
 * compare settings); the result says which were in effect.
 *
 * Needs `npm run build`, Redis and Postgres. Leaves nothing behind: a queue prefix and a Postgres
 * schema of its own, removed at the end.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Queue } from 'bullmq';
import type { Scenario } from '@mnsim/kernel';
import { generateScenario } from '@mnsim/scenarios';
import { openStore, type Store } from '@mnsim/store';
import {
  Bus,
  CLUSTER_PROCESSES,
  DEFAULT_LOCK_DURATION_MS,
  DEFAULT_STALLED_INTERVAL_MS,
  DistributedClient,
  serverOf,
} from '@mnsim/bus';
import { AUDITOR_QUEUE, COMPONENT_QUEUES } from '@mnsim/runtime';
import { benchSandbox } from './cleanup.js';

/** dist/bench/src → the repository root */
const ROOT = join(import.meta.dirname, '../../..');
/** the processes of one replica, as `npm run cluster` starts them (topology.ts) */
const APPS_PER_REPLICA = CLUSTER_PROCESSES.length;
/** the queues whose worker is killed in turn, and that worker's process (topology.ts) */
const VICTIMS = [COMPONENT_QUEUES.mm, COMPONENT_QUEUES.oom, AUDITOR_QUEUE].map((queue) => {
  const server = serverOf(queue);
  if (!server) throw new Error(`no process of the cluster serves queue "${queue}"`);
  return { app: server.process.name, queue };
});
const IN_FLIGHT = 8;
/** what a worker logs once it serves its queues */
const SERVING = /"message":"serving"/g;
const STEPS = 60;
const START_MS = 120_000;
/** a kill whose runs have not all moved after this is reported as this (and the goal missed) */
const GIVE_UP_MS = 60_000;

export interface KillRecovery {
  app: string;
  /** until every job its queue had active at the kill completed (0 if it had none) */
  secs: number;
  heldJobs: number;
  firstJobSecs: number;
  /** until the supervisor's new process for it said it serves (backoff and start-up) */
  restartedSecs: number;
}

export interface RecoveryBenchResult {
  /** the slowest kill with 2 replicas, and with 1 (restart included) */
  replicas2: number;
  replicas1: number;
  kills2: KillRecovery[];
  kills1: KillRecovery[];
  lockDurationMs: number;
  stalledIntervalMs: number;
}

export interface RecoveryBenchOptions {
  redisUrl: string;
  databaseUrl: string;
  seed: number;
  log: (msg: string) => void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `npm run cluster -- --replicas N` on a prefix and schema of its own; its output kept. */
class Cluster {
  private output = '';
  readonly exited: Promise<void>;

  constructor(
    readonly child: ChildProcess,
    readonly replicas: number,
  ) {
    const keep = (d: Buffer): void => {
      this.output += d.toString();
      if (this.output.length > 4_000_000) this.output = this.output.slice(-2_000_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((r) => child.once('exit', () => r()));
  }

  static start(replicas: number, env: NodeJS.ProcessEnv): Cluster {
    const child = spawn(
      process.execPath,
      [join(ROOT, 'scripts/cluster.mjs'), '--replicas', String(replicas)],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    return new Cluster(child, replicas);
  }

  count(pattern: RegExp): number {
    return [...this.output.matchAll(pattern)].length;
  }

  async until(what: string, ok: () => boolean, ms = START_MS): Promise<void> {
    const deadline = Date.now() + ms;
    while (!ok()) {
      if (this.child.exitCode !== null) throw new Error(`the cluster exited: ${this.tail()}`);
      if (Date.now() > deadline) throw new Error(`no ${what} within ${ms} ms: ${this.tail()}`);
      await sleep(50);
    }
  }

  /** The pid the supervisor last logged for `label` (`mmu-notifier#1 started (pid N)`). */
  pidOf(label: string): number {
    const re = new RegExp(`${label.replace('#', '\\#')} started \\(pid (\\d+)\\)`, 'g');
    const all = [...this.output.matchAll(re)];
    if (all.length === 0) throw new Error(`the cluster logged no pid for ${label}`);
    return Number(all[all.length - 1][1]);
  }

  tail(): string {
    return this.output.slice(-3000);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    await Promise.race([this.exited, sleep(30_000)]);
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** Runs generated scenarios, IN_FLIGHT at a time, until stopped. */
class Load {
  completed = 0;
  /** why runs did not complete: none should, a recovery loses nothing */
  readonly failures: string[] = [];
  private stopped = false;
  private readonly lanes: Promise<void>[];
  private next = 0;

  constructor(
    private readonly store: Store,
    private readonly client: DistributedClient,
    private readonly seed: number,
  ) {
    this.lanes = Array.from({ length: IN_FLIGHT }, () => this.lane());
  }

  private scenario(): Scenario {
    return generateScenario(this.seed, this.next++, { mix: 'invalidations', steps: STEPS })
      .scenario;
  }

  private async lane(): Promise<void> {
    while (!this.stopped) {
      const scenario = this.scenario();
      const runId = randomUUID();
      await this.store.createRun({
        runId,
        scenario: scenario.name,
        kernel: scenario.kernel,
        arch: scenario.host.arch,
        seed: scenario.seed,
        source: null,
      });
      try {
        await this.client.submit(runId, scenario, { kernel: scenario.kernel, seed: scenario.seed });
        const outcome = await this.client.wait(runId);
        if (outcome.status === 'completed') this.completed++;
        else this.failures.push(outcome.failureReason ?? 'failed');
      } catch (err) {
        this.failures.push(err instanceof Error ? err.message : String(err));
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.lanes);
  }
}

async function completedCount(bus: Bus, queue: string): Promise<number> {
  return (await bus.queue(queue).getMetrics('completed', 0, 0)).meta.count;
}

/** Whether a job is done with: completed (and so removed), or failed for good. */
async function finished(queue: Queue, id: string): Promise<boolean> {
  const job = await queue.getJob(id);
  return !job || (await job.isCompleted()) || (await job.isFailed());
}

async function killAndWatch(
  cluster: Cluster,
  bus: Bus,
  victim: (typeof VICTIMS)[number],
): Promise<KillRecovery> {
  const queue = bus.queue(victim.queue);
  const label = cluster.replicas > 1 ? `${victim.app}#1` : victim.app;
  const pid = cluster.pidOf(label);
  // The kill lands while every worker of the queue has a job in hand, the killed one's among
  // them: a job's lock holds its worker's token (`<worker id>:<n>`, BullMQ's Worker).
  let held: string[] = [];
  for (let i = 0; i < 2000; i++) {
    const active = await queue.getJobs(['active']);
    const owners = await Promise.all(
      active.map((j) => bus.redis.get(`${bus.opts.prefix}:${victim.queue}:${j.id}:lock`)),
    );
    const workers = new Set(owners.flatMap((t) => (t ? [t.split(':')[0]] : [])));
    held = active.flatMap((j) => (j.id ? [j.id] : []));
    if (workers.size >= cluster.replicas) break;
    await sleep(5);
  }
  const jobsBefore = await completedCount(bus, victim.queue);
  const servingBefore = cluster.count(SERVING);
  process.kill(pid, 'SIGKILL');
  const t0 = Date.now();
  let firstJobMs: number | null = null;
  let restartedMs: number | null = null;
  let heldMs: number | null = held.length === 0 ? 0 : null;
  const pending = new Set(held);
  while (heldMs === null || firstJobMs === null || restartedMs === null) {
    if (Date.now() - t0 > GIVE_UP_MS) break;
    await sleep(25);
    if (restartedMs === null && cluster.count(SERVING) > servingBefore) {
      restartedMs = Date.now() - t0;
    }
    if (firstJobMs === null && (await completedCount(bus, victim.queue)) > jobsBefore) {
      firstJobMs = Date.now() - t0;
    }
    for (const id of [...pending]) if (await finished(queue, id)) pending.delete(id);
    if (heldMs === null && pending.size === 0) heldMs = Date.now() - t0;
  }
  const secs = (ms: number | null): number => Number(((ms ?? GIVE_UP_MS) / 1000).toFixed(2));
  return {
    app: victim.app,
    secs: secs(heldMs),
    heldJobs: held.length,
    firstJobSecs: secs(firstJobMs),
    restartedSecs: secs(restartedMs),
  };
}

async function measure(replicas: number, o: RecoveryBenchOptions): Promise<KillRecovery[]> {
  const box = benchSandbox(
    `rec${replicas}_${randomBytes(4).toString('hex')}`,
    o.redisUrl,
    o.databaseUrl,
  );
  const env: NodeJS.ProcessEnv = { ...box.env, MNSIM_API_PORT: '0', ...lockSettings() };
  const store = await openStore({ url: o.databaseUrl, schema: box.schema });
  const bus = new Bus({ redisUrl: o.redisUrl, prefix: box.prefix });
  const client = new DistributedClient(bus, { runTimeoutMs: 5 * GIVE_UP_MS });
  const cluster = Cluster.start(replicas, env);
  let load: Load | null = null;
  try {
    const serving = replicas * APPS_PER_REPLICA;
    o.log(`  recovery, ${replicas} replica(s): starting ${serving} processes…`);
    await cluster.until('workers serving', () => cluster.count(SERVING) >= serving);
    load = new Load(store, client, o.seed);
    const warm = load;
    await cluster.until('warm-up runs', () => warm.completed >= 2 * IN_FLIGHT);
    const kills: KillRecovery[] = [];
    for (const victim of VICTIMS) {
      const restartsBefore = cluster.count(/ started \(pid \d+\)/g);
      const k = await killAndWatch(cluster, bus, victim);
      o.log(
        `  ${replicas} replica(s): SIGKILL ${victim.app}: the ${k.heldJobs} jobs its queue had in hand completed after ${k.secs} s (its queue's first job after ${k.firstJobSecs} s; restarted, serving, after ${k.restartedSecs} s)`,
      );
      kills.push(k);
      // the supervisor has brought the killed process back before the next kill
      await cluster.until(
        `restart of ${victim.app}`,
        () => cluster.count(/ started \(pid \d+\)/g) > restartsBefore,
      );
      const done = load.completed;
      await cluster.until('runs completing again', () => warm.completed >= done + IN_FLIGHT);
    }
    if (load.failures.length > 0) {
      throw new Error(`${load.failures.length} runs did not complete: ${load.failures[0]}`);
    }
    return kills;
  } finally {
    await load?.stop().catch(() => undefined);
    client.close();
    await cluster.stop();
    await bus.close();
    await store.close();
    await box.drop();
  }
}

/**
 * The workers' lock and stalled-check settings, when the bench's own environment sets them (to
 * compare with BullMQ's or earlier defaults); otherwise the workers run on theirs.
 */
function lockSettings(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of ['MNSIM_LOCK_DURATION_MS', 'MNSIM_STALLED_INTERVAL_MS']) {
    if (process.env[name]) env[name] = process.env[name];
  }
  return env;
}

export async function benchRecovery(o: RecoveryBenchOptions): Promise<RecoveryBenchResult> {
  const kills2 = await measure(2, o);
  const kills1 = await measure(1, o);
  const slowest = (ks: KillRecovery[]): number => Math.max(...ks.map((k) => k.secs));
  return {
    replicas2: slowest(kills2),
    replicas1: slowest(kills1),
    kills2,
    kills1,
    lockDurationMs: Number(lockSettings().MNSIM_LOCK_DURATION_MS ?? DEFAULT_LOCK_DURATION_MS),
    stalledIntervalMs: Number(
      lockSettings().MNSIM_STALLED_INTERVAL_MS ?? DEFAULT_STALLED_INTERVAL_MS,
    ),
  };
}
