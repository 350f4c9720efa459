/**
 * The CLI's configuration, from the environment, validated once: MNSIM_DATABASE_URL (postgres://…)
 * selects Postgres, otherwise the embedded SQLite file (MNSIM_SQLITE_PATH, default
 * .mnsim/mnsim.sqlite under the current directory); MNSIM_RUN_TIMEOUT bounds a distributed client's
 * wait for runs that no longer move.
 */
import type { StoreOptions } from '@mnsim/store';
import { UsageError } from './errors.js';

export interface CliConfig {
  store: StoreOptions;
  redisUrl: string | null;
  /** the cluster's MNSIM_QUEUE_PREFIX */
  queuePrefix?: string;
  /** MNSIM_RUN_TIMEOUT: a distributed client gives up when none of its runs moved for this long */
  runTimeoutMs?: number;
}

/** MNSIM_RUN_TIMEOUT's default, in seconds: design.md's 60 s. */
export const DEFAULT_RUN_TIMEOUT_S = 60;

/**
 * MNSIM_RUN_TIMEOUT: seconds, or a number with `ms`, `s` or `m`; from 1 s to a day.
 * @throws UsageError naming the variable and what it accepts
 */
export function parseRunTimeout(raw: string | undefined): number {
  const text = raw?.trim();
  if (!text) return DEFAULT_RUN_TIMEOUT_S * 1000;
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/.exec(text);
  const ms = m ? Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000 }[m[2] ?? 's'] ?? 1000) : NaN;
  if (!(ms >= 1000 && ms <= 86_400_000)) {
    throw new UsageError(
      `MNSIM_RUN_TIMEOUT must be a duration from 1 s to 24 h, in seconds or with ms, s or m (got ${JSON.stringify(text)})`,
    );
  }
  return Math.round(ms);
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
  };
}
