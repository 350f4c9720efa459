/**
 * A distributed run: submitted to a running cluster (npm run cluster, or docker compose), waited
 * for with progress, then read back from the store the auditor wrote, so the result prints exactly
 * like an embedded run's (runJson / runHuman).
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Arch, KernelVariant, Scenario } from '@mnsim/kernel';
import type { Violation } from '@mnsim/events';
import { kernelLogFromEvent, type KernelLogLine } from '@mnsim/engine';
import {
  AUDITOR_QUEUE,
  Bus,
  DEFAULT_CHAIN_TIMEOUT_MS,
  DistributedClient,
  ORCHESTRATOR_QUEUE,
  queueOf,
} from '@mnsim/bus';
import { InfrastructureError } from './errors.js';
import { openStore, type Store } from '@mnsim/store';

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
  /** events emitted so far */
  onProgress?: (events: number) => void;
  /** a run id of the caller's choosing (tests); default a random UUID */
  runId?: string;
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
    throw new InfrastructureError(
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
  const queues = [
    ORCHESTRATOR_QUEUE,
    AUDITOR_QUEUE,
    queueOf('task'),
    queueOf('mm'),
    queueOf('oom'),
    queueOf(`kvm:${arch}`),
  ];
  for (const name of queues) {
    if ((await bus.queue(name).getWorkersCount()) === 0) {
      throw new InfrastructureError(
        `no mnsim worker serves queue "${name}" (prefix ${bus.opts.prefix}) on ${redisUrl}: start the cluster with \`npm run cluster\` or \`docker compose up\``,
      );
    }
  }
}

export async function runDistributed(
  scenario: Scenario,
  source: string | null,
  opts: RunDistributedOptions,
): Promise<DistributedRun> {
  await assertRedisReachable(opts.redisUrl);
  const bus = new Bus({ redisUrl: opts.redisUrl, prefix: opts.prefix ?? 'mnsim' });
  let store: Store | null = null;
  try {
    await assertClusterServes(bus, scenario.host.arch, opts.redisUrl);
    store = await openStore({ url: opts.databaseUrl, schema: opts.databaseSchema });
    return await runDistributedWith(store, bus, scenario, source, opts);
  } finally {
    await bus.close();
    await store?.close();
  }
}

/** The same over an open store and bus (campaigns and tests share them across runs). */
export async function runDistributedWith(
  store: Store,
  bus: Bus,
  scenario: Scenario,
  source: string | null,
  opts: Omit<RunDistributedOptions, 'redisUrl' | 'databaseUrl' | 'databaseSchema' | 'prefix'>,
): Promise<DistributedRun> {
  const runId = opts.runId ?? randomUUID();
  const kernel = opts.kernel ?? scenario.kernel;
  const seed = opts.seed ?? scenario.seed;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_CHAIN_TIMEOUT_MS;
  await store.createRun({
    runId,
    scenario: scenario.name,
    kernel,
    arch: scenario.host.arch,
    seed,
    source,
  });
  const client = new DistributedClient(bus);
  await client.submit(runId, scenario, { kernel, seed, timeoutMs });
  let outcome;
  try {
    outcome = await client.wait(runId, timeoutMs, { onProgress: opts.onProgress });
  } catch (err) {
    // The auditor may have closed the run in the store and its outcome in Redis been lost since
    // (Redis restarted): the store's outcome is the auditor's, computed from the stored events.
    const row = await store.getRun(runId);
    if (row && (row.status === 'completed' || row.status === 'failed')) {
      outcome = {
        runId,
        status: row.status,
        events: row.events,
        logHash: row.logHash,
        violations: row.violations,
        failureReason: row.failureReason,
      };
    } else {
      const reason = err instanceof Error ? err.message : String(err);
      await store.finishRun(runId, {
        status: 'failed',
        events: 0,
        logHash: null,
        violations: 0,
        failureReason: reason,
      });
      outcome = {
        runId,
        status: 'failed' as const,
        events: 0,
        logHash: null,
        violations: 0,
        failureReason: reason,
      };
    }
  }
  const violations: Violation[] = [];
  const kernelLog: KernelLogLine[] = [];
  let panicked = false;
  for await (const e of store.iterateEvents(runId, 5000)) {
    const payload = JSON.parse(e.encodedPayload) as {
      violation?: Omit<Violation, 'seq'>;
      globals?: { panicked: boolean };
    };
    if (e.type === 'violation' && payload.violation)
      violations.push({ seq: e.seq, ...payload.violation });
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
