/**
 * The CLI's configuration, from the environment, validated once: MNSIM_DATABASE_URL (postgres://…)
 * selects Postgres, otherwise the embedded SQLite file (MNSIM_SQLITE_PATH, default
 * .mnsim/mnsim.sqlite under the current directory); MNSIM_RUN_TIMEOUT bounds a distributed client's
 * wait for runs that no longer move; MNSIM_MAX_RUN_EVENTS, MNSIM_MAX_RUN_BYTES and
 * MNSIM_MAX_TRACE_ENTRIES what one run may produce.
 */
import { z } from 'zod';
import { type RunLimits, runLimitsFromEnv } from '@mnsim/events';
import { DEFAULT_RUN_TIMEOUT_MS, SHARED_ENV, parseEnv } from '@mnsim/config';
import type { StoreOptions } from '@mnsim/store';

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

/** The CLI's variables: the shared parts (@mnsim/config), as the API and the cluster read them. */
const cliEnvSchema = z.object(SHARED_ENV);

/** @throws ConfigError (exit status 2) naming the first bad variable */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): CliConfig {
  const e = parseEnv(cliEnvSchema, env);
  return {
    store: e.MNSIM_DATABASE_URL
      ? { url: e.MNSIM_DATABASE_URL, schema: e.MNSIM_DATABASE_SCHEMA }
      : { sqlitePath: e.MNSIM_SQLITE_PATH },
    redisUrl: e.MNSIM_REDIS_URL ?? null,
    queuePrefix: e.MNSIM_QUEUE_PREFIX ?? 'mnsim',
    runTimeoutMs: e.MNSIM_RUN_TIMEOUT ?? DEFAULT_RUN_TIMEOUT_MS,
    runLimits: runLimitsFromEnv(env),
  };
}
