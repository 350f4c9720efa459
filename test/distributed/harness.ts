/**
 * Shared by the distributed e2e tests: a queue prefix and a Postgres schema of the test's own,
 * in-process workers (the same processors the apps run) over real BullMQ/Redis, and clean-up.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { ARCHES, type Address } from '@mnsim/kernel';
import {
  AuditorProcessor,
  Bus,
  type BusOptions,
  ComponentProcessor,
  DistributedClient,
  OrchestratorProcessor,
  type BusLogger,
} from '@mnsim/bus';
import { JOB, type StartMessage } from '@mnsim/runtime';
import { resolveScenario } from '@mnsim/scenarios';
import { openStore, type Store } from '@mnsim/store';

export const REDIS_URL = process.env.MNSIM_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const DATABASE_URL =
  process.env.MNSIM_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export const quietLog: BusLogger = (level, msg, fields) => {
  if (level === 'error') console.error(msg, JSON.stringify(fields));
};

export interface Env {
  prefix: string;
  schema: string;
  store: Store;
  bus: Bus;
  /** a client of the cluster on that bus: its runs share one watch */
  client: DistributedClient;
  cleanup(): Promise<void>;
}

/** `redisUrl`: a Redis of the test's own (private-redis.ts); default the shared one. */
export async function testEnv(name: string, redisUrl = REDIS_URL): Promise<Env> {
  const tag = `${name}_${randomBytes(4).toString('hex')}`;
  const prefix = `mnsimt-${tag}`;
  const schema = `mnsimt_${tag}`.replace(/-/g, '_');
  const store = await openStore({ url: DATABASE_URL, schema });
  const bus = new Bus({ redisUrl, prefix });
  const client = new DistributedClient(bus);
  return {
    prefix,
    schema,
    store,
    bus,
    client,
    async cleanup() {
      client.close();
      await bus.close();
      await store.close();
      await dropPrefix(prefix, redisUrl);
      const c = new pg.Client({ connectionString: DATABASE_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
    },
  };
}

/**
 * Starts run `runId` (oom-reap-arm64 on 5.8) as the orchestrator does on its start message, with
 * no worker running: its state is in Redis and its first invoke waits in its queue.
 */
export async function startRunByHand(env: Env, runId: string, timeoutMs = 10_000): Promise<void> {
  const { scenario } = resolveScenario('oom-reap-arm64');
  const start: StartMessage = {
    runId,
    kernel: '5.8',
    seed: 1,
    scenario: scenario as unknown as StartMessage['scenario'],
    timeoutMs,
  };
  await new OrchestratorProcessor(env.bus, quietLog).handle(JOB.start, start);
}

export async function dropPrefix(prefix: string, redisUrl = REDIS_URL): Promise<void> {
  const r = new Redis(redisUrl);
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await r.del(...keys);
  } while (cursor !== '0');
  r.disconnect();
}

/** Every worker of the cluster, in this process, on its own connections. */
export async function inProcessCluster(
  env: Env,
  settings = { concurrency: 16, lockDurationMs: 5000, stalledIntervalMs: 2000 },
  without: readonly Address[] = [],
  busOptions: Partial<BusOptions> = {},
): Promise<() => Promise<void>> {
  const buses: Bus[] = [];
  const mk = (): Bus => {
    const b = new Bus({ ...busOptions, redisUrl: REDIS_URL, prefix: env.prefix });
    buses.push(b);
    return b;
  };
  const addresses: Address[] = ['task', 'mm', 'oom', ...ARCHES.map((a) => `kvm:${a}` as const)];
  for (const a of addresses.filter((x) => !without.includes(x)))
    new ComponentProcessor(mk(), [a], quietLog).start(settings);
  new OrchestratorProcessor(mk(), quietLog).start(settings);
  const auditStore = await openStore({ url: DATABASE_URL, schema: env.schema });
  new AuditorProcessor(mk(), auditStore, quietLog).start(settings);
  return async () => {
    await Promise.all(buses.map((b) => b.close()));
    await auditStore.close();
  };
}
