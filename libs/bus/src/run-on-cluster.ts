/**
 * A run on the cluster, the use-case of `mnsim run --distributed`: submitted to a running cluster
 * (npm run cluster, or docker compose), waited for with progress, then read back from the store
 * the auditor wrote, so the result prints exactly like an embedded run's (runJson / runHuman).
 */
import { MnsimError } from '@mnsim/errors';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Arch, KernelVariant, Scenario, ViolationRecord } from '@mnsim/kernel';
import { type Violation, violationWithSeq } from '@mnsim/events';
import { kernelLogFromEvent, type KernelLogLine } from '@mnsim/engine';
import { newRunOf, openStore, type Store } from '@mnsim/store';
import { DEFAULT_CHAIN_TIMEOUT_MS, DistributedClient } from './client.js';
import { ClusterStalledError, runQueues, unservedQueues } from './cluster-watch.js';
import { Bus } from './redis-bus.js';
import type { RunOutcome } from './run-state.js';

/** The cluster cannot take the run: Redis does not answer, or a queue it needs has no worker. */
export class ClusterUnavailableError extends MnsimError {
  constructor(message: string) {
    super(message, 'unavailable');
  }
}

export interface RunDistributedOptions {
  kernel?: KernelVariant;
  seed?: number;
  redisUrl: string;
  databaseUrl: string;
  /** Postgres schema (tests); default the database's search path */
  databaseSchema?: string;
  /** the cluster's MNSIM_QUEUE_PREFIX; default `mnsim` */
  prefix?: string;
  /** a chain that does not complete within this ends the run failed; default 30 s */
  timeoutMs?: number;
  /** none of the client's runs moved for this long: give up (MNSIM_RUN_TIMEOUT); default 60 s */
  runTimeoutMs?: number;
  /** the run's events so far and the time since it last moved: on each move and every second */
  onProgress?: (p: RunProgress) => void;
  /** a run id of the caller's choosing (tests); default a random UUID */
  runId?: string;
}

export interface RunProgress {
  events: number;
  sinceProgressMs: number;
}

/** What runJson/runHuman print (RecordedRun's fields minus the embedded engine's internals). */
export interface DistributedRun {
  runId: string;
  scenario: string;
  kernel: KernelVariant;
  arch: Arch;
  seed: number;
  status: 'completed' | 'failed';
  failureReason: string | null;
  events: number;
  logHash: string | null;
  violations: Violation[];
  kernelLog: KernelLogLine[];
  panicked: boolean;
}

/** How long `mnsim run --distributed` waits for Redis to answer before it gives up. */
export const REDIS_PROBE_MS = 3000;

/**
 * Redis must answer before anything is submitted: otherwise every connection of the bus would
 * retry forever (workers need that, a command does not) and the command would hang. One probe
 * connection, no retries, a bounded wait, and a one-line reason.
 */
export async function assertRedisReachable(redisUrl: string): Promise<void> {
  const probe = new Redis(redisUrl, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: REDIS_PROBE_MS,
  });
  let lastError: Error | null = null;
  probe.on('error', (err: Error) => (lastError = err));
  try {
    await probe.connect();
    await probe.ping();
  } catch (err) {
    const reason = (lastError ?? (err as Error)).message;
    throw new ClusterUnavailableError(
      `cannot reach Redis at ${redisUrl} (${reason}): start it, or set MNSIM_REDIS_URL`,
    );
  } finally {
    probe.disconnect();
  }
}

/**
 * Every queue a run of this arch needs must have a worker, or the run could only time out:
 * say so at once, naming the queue.
 */
export async function assertClusterServes(bus: Bus, arch: Arch, redisUrl: string): Promise<void> {
  const [name] = await unservedQueues(bus, runQueues([arch]));
  if (name !== undefined) {
    throw new ClusterUnavailableError(
      `no mnsim worker serves queue "${name}" (prefix ${bus.opts.prefix}) on ${redisUrl}: start the cluster with \`npm run cluster\` or \`docker compose up\``,
    );
  }
}

export async function runDistributed(
  scenario: Scenario,
  source: string | null,
  opts: RunDistributedOptions,
): Promise<DistributedRun> {
  await assertRedisReachable(opts.redisUrl);
  const bus = new Bus({ redisUrl: opts.redisUrl, prefix: opts.prefix ?? 'mnsim' });
  const client = new DistributedClient(bus, { runTimeoutMs: opts.runTimeoutMs });
  let store: Store | null = null;
  try {
    await assertClusterServes(bus, scenario.host.arch, opts.redisUrl);
    store = await openStore({ url: opts.databaseUrl, schema: opts.databaseSchema });
    return await runDistributedWith(store, client, scenario, source, opts);
  } finally {
    client.close();
    await bus.close();
    await store?.close();
  }
}

/** How often a waiting run's progress is reported when nothing else happens. */
const PROGRESS_TICK_MS = 1_000;

/**
 * The same over an open store and client (campaigns and tests share them across runs). When the
 * client's watch gives up on the cluster, the run is recorded failed with the watch's reason,
 * left to end so once an orchestrator is back, and the ClusterStalledError is thrown on: it is
 * not this run's failure but the cluster's.
 */
export async function runDistributedWith(
  store: Store,
  client: DistributedClient,
  scenario: Scenario,
  source: string | null,
  opts: Omit<RunDistributedOptions, 'redisUrl' | 'databaseUrl' | 'databaseSchema' | 'prefix'>,
): Promise<DistributedRun> {
  const run = newRunOf(opts.runId ?? randomUUID(), scenario, source, opts);
  const { runId, kernel, seed } = run;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_CHAIN_TIMEOUT_MS;
  if (client.watch.error) throw client.watch.error;
  await store.createRun(run);
  let events = 0;
  const report = (): void =>
    opts.onProgress?.({ events, sinceProgressMs: client.watch.sinceProgressMs() });
  const ticker = opts.onProgress ? setInterval(report, PROGRESS_TICK_MS) : null;
  let outcome: RunOutcome;
  try {
    await client.submit(runId, scenario, { kernel, seed, timeoutMs });
    outcome = await client.wait(runId, {
      onProgress: (n) => {
        events = n;
        report();
      },
    });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    if (err instanceof ClusterStalledError) await client.abandon(runId, reason);
    outcome = await closedOrFailed(store, runId, reason);
    if (err instanceof ClusterStalledError && outcome.status !== 'completed') throw err;
  } finally {
    if (ticker) clearInterval(ticker);
  }
  const violations: Violation[] = [];
  const kernelLog: KernelLogLine[] = [];
  let panicked = false;
  for await (const e of store.iterateEvents(runId, 5000)) {
    const payload = e.payload as unknown as {
      violation?: ViolationRecord;
      globals?: { panicked: boolean };
    };
    if (e.type === 'violation' && payload.violation) {
      violations.push(violationWithSeq(e.seq, payload.violation));
    }
    if (payload.globals?.panicked) panicked = true;
    kernelLogFromEvent({ seq: e.seq, type: e.type, jiffies: e.jiffies, payload }, kernelLog);
  }
  return {
    runId,
    scenario: scenario.name,
    kernel,
    arch: scenario.host.arch,
    seed,
    status: outcome.status,
    failureReason: outcome.failureReason,
    events: outcome.events,
    logHash: outcome.logHash,
    violations,
    kernelLog,
    panicked,
  };
}

/**
 * The outcome of a run whose wait failed: the store's, if the auditor closed it (its outcome in
 * Redis may have been lost since: Redis restarted), else the run is recorded failed with `reason`.
 */
async function closedOrFailed(store: Store, runId: string, reason: string): Promise<RunOutcome> {
  const row = await store.getRun(runId);
  if (row && (row.status === 'completed' || row.status === 'failed')) {
    return {
      runId,
      status: row.status,
      events: row.events,
      logHash: row.logHash,
      violations: row.violations,
      failureReason: row.failureReason,
    };
  }
  const failed = {
    runId,
    status: 'failed' as const,
    events: 0,
    logHash: null,
    violations: 0,
    failureReason: reason,
  };
  await store.finishRun(runId, failed);
  return failed;
}
