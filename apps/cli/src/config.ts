/**
 * The CLI's configuration, from the environment, validated once: MNSIM_DATABASE_URL (postgres://…)
 * selects Postgres, otherwise the embedded SQLite file (MNSIM_SQLITE_PATH, default
 * .mnsim/mnsim.sqlite under the current directory); MNSIM_RUN_TIMEOUT bounds a distributed client's
 * wait for runs that no longer move; MNSIM_MAX_RUN_EVENTS, MNSIM_MAX_RUN_BYTES and
 * MNSIM_MAX_TRACE_ENTRIES what one run may produce.
 */
import { type RunLimits, runLimitsFromEnv } from '@mnsim/events';
import { ConfigError, parseRunTimeout as parseBusRunTimeout } from '@mnsim/runtime';
import type { StoreOptions } from '@mnsim/store';
import { UsageError } from './errors.js';

export interface CliConfig {
  store: StoreOptions;
  redisUrl: string | null;
  /** the cluster's MNSIM_QUEUE_PREFIX */
  queuePrefix?: string;
  /** MNSIM_RUN_TIMEOUT: a distributed client gives up when none of its runs moved for this long */
  runTimeoutMs?: number;
  /** what one embedded run or replay may produce (DEFAULT_RUN_LIMITS unless set) */
  runLimits?: Readonly<RunLimits>;
}

/**
 * MNSIM_RUN_TIMEOUT in ms, read as the cluster's services read it (@mnsim/bus); default 60 s.
 * @throws UsageError naming the variable and what it accepts
 */
export function parseRunTimeout(raw: string | undefined): number {
  try {
    return parseBusRunTimeout(raw);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
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
    runTimeoutMs: parseRunTimeout(env.MNSIM_RUN_TIMEOUT),
    runLimits: runLimitsFromEnv(env),
  };
}
