/**
 * The CLI's configuration, from the environment, validated once: MNSIM_DATABASE_URL (postgres://…)
 * selects Postgres, otherwise the embedded SQLite file (MNSIM_SQLITE_PATH, default
 * .mnsim/mnsim.sqlite under the current directory).
 */
import type { StoreOptions } from '@mnsim/store';
import { UsageError } from './errors.js';

export interface CliConfig {
  store: StoreOptions;
  redisUrl: string | null;
  /** the cluster's MNSIM_QUEUE_PREFIX */
  queuePrefix?: string;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): CliConfig {
  const url = env.MNSIM_DATABASE_URL?.trim();
  if (url && !/^postgres(ql)?:\/\//.test(url)) {
    throw new UsageError(
      `MNSIM_DATABASE_URL must be a postgres:// or postgresql:// URL (got ${JSON.stringify(url)}); unset it to use the embedded SQLite store`,
    );
  }
  const redis = env.MNSIM_REDIS_URL?.trim();
  if (redis && !/^rediss?:\/\//.test(redis)) {
    throw new UsageError(
      `MNSIM_REDIS_URL must be a redis:// or rediss:// URL (got ${JSON.stringify(redis)})`,
    );
  }
  const sqlitePath = env.MNSIM_SQLITE_PATH?.trim();
  return {
    store: url
      ? { url, schema: env.MNSIM_DATABASE_SCHEMA?.trim() || undefined }
      : { sqlitePath: sqlitePath || undefined },
    redisUrl: redis || null,
    queuePrefix: env.MNSIM_QUEUE_PREFIX?.trim() || 'mnsim',
  };
}
