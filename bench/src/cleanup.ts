/**
 * Where a benchmark's cluster lives and what it removes when it ends: a queue prefix and a
 * Postgres schema of its own.
 */
import { Redis } from 'ioredis';
import pg from 'pg';

/** Deletes every key under `prefix:` (a benchmark's queues and run state). */
export async function dropPrefix(redisUrl: string, prefix: string): Promise<void> {
  const r = new Redis(redisUrl);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

export async function dropSchema(databaseUrl: string, schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await c.end();
  }
}

/** A benchmark cluster's own prefix and schema, the environment its processes get, its clean-up. */
export interface BenchSandbox {
  prefix: string;
  schema: string;
  /** for every process of the cluster (add its own settings) */
  env: NodeJS.ProcessEnv;
  drop(): Promise<void>;
}

export function benchSandbox(tag: string, redisUrl: string, databaseUrl: string): BenchSandbox {
  const prefix = `mnsimbench-${tag}`;
  const schema = `mnsimbench_${tag}`;
  return {
    prefix,
    schema,
    env: {
      PATH: process.env.PATH,
      MNSIM_REDIS_URL: redisUrl,
      MNSIM_DATABASE_URL: databaseUrl,
      MNSIM_DATABASE_SCHEMA: schema,
      MNSIM_QUEUE_PREFIX: prefix,
    },
    async drop() {
      await dropPrefix(redisUrl, prefix);
      await dropSchema(databaseUrl, schema);
    },
  };
}
