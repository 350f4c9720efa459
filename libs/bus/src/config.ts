/**
 * The distributed services' configuration, from the environment, validated once at start: a
 * wrong value stops the process with a one-line reason.
 */
import { z } from 'zod';
import { ARCHES } from '@mnsim/kernel';
import { runLimitsFromEnv } from '@mnsim/events';
import { ConfigError, SHARED_ENV, duration, envVar, integer, parseEnv } from '@mnsim/config';
import { DEFAULT_LOCK_DURATION_MS, DEFAULT_STALLED_INTERVAL_MS } from './redis-bus.js';
import { DLQ_AGE_RULE, parseDeadLetterAge } from './dead-letters.js';
import { WORKER_CONCURRENCY } from './topology.js';

/** an integer from min to max, `dflt` when unset */
const int = (min: number, max: number, dflt: number) =>
  envVar(integer(min, max)).transform((v) => v ?? dflt);

/** The shared parts (@mnsim/config) with the cluster's defaults, then the workers' own. */
export const clusterEnvSchema = z.object({
  MNSIM_REDIS_URL: SHARED_ENV.MNSIM_REDIS_URL.transform((v) => v ?? 'redis://127.0.0.1:6379'),
  MNSIM_DATABASE_URL: SHARED_ENV.MNSIM_DATABASE_URL.transform(
    (v) => v ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  ),
  /** a Postgres schema of its own (tests) */
  MNSIM_DATABASE_SCHEMA: SHARED_ENV.MNSIM_DATABASE_SCHEMA,
  MNSIM_QUEUE_PREFIX: SHARED_ENV.MNSIM_QUEUE_PREFIX.transform((v) => v ?? 'mnsim'),
  MNSIM_CONCURRENCY: int(
    WORKER_CONCURRENCY.min,
    WORKER_CONCURRENCY.max,
    WORKER_CONCURRENCY.default,
  ),
  MNSIM_LOCK_DURATION_MS: int(500, 600_000, DEFAULT_LOCK_DURATION_MS),
  MNSIM_STALLED_INTERVAL_MS: int(200, 600_000, DEFAULT_STALLED_INTERVAL_MS),
  /** the dead-letter queue's cap (dead-letters.ts); unset: 10,000 entries, 7 days */
  MNSIM_DLQ_MAX_ENTRIES: envVar(integer(1, 10_000_000)),
  /** in ms once parsed: `7d`, `12h`, `90m`, seconds alone */
  MNSIM_DLQ_MAX_AGE: envVar(duration(parseDeadLetterAge, DLQ_AGE_RULE)),
  /** in ms once parsed; unset: absent (the services' default is 60 s) */
  MNSIM_RUN_TIMEOUT: SHARED_ENV.MNSIM_RUN_TIMEOUT,
  /** the orchestrator fails a run past this many events (runLimitsFromEnv reads it); unset: 100,000 */
  MNSIM_MAX_RUN_EVENTS: envVar(
    z.string().transform((raw, ctx) => {
      try {
        return runLimitsFromEnv({ MNSIM_MAX_RUN_EVENTS: raw }).maxEvents;
      } catch (err) {
        // its message names the variable already: the rule alone here
        ctx.addIssue({
          code: 'custom',
          message: (err as Error).message.replace(/^MNSIM_MAX_RUN_EVENTS /, ''),
        });
        return z.NEVER;
      }
    }),
  ),
  KVM_ARCH: envVar(z.enum(ARCHES, { error: `must be one of ${ARCHES.join(', ')}` })),
  /** a file the process touches while it is alive, for a container's health check (supervision.ts) */
  MNSIM_HEARTBEAT_FILE: envVar(z.string()),
});

export type ClusterConfig = z.infer<typeof clusterEnvSchema>;

/** @throws ConfigError naming the variable and the reason */
export function parseClusterConfig(
  env: NodeJS.ProcessEnv,
  need: { kvmArch?: boolean } = {},
): ClusterConfig {
  const config = parseEnv(clusterEnvSchema, env);
  if (need.kvmArch && !config.KVM_ARCH) {
    throw new ConfigError(`KVM_ARCH must be set, to one of ${ARCHES.join(', ')}`);
  }
  return config;
}

/** For a service's main: the config, or one line on stderr and exit status 2. */
export function loadClusterConfigOrExit(
  service: string,
  need: { kvmArch?: boolean } = {},
): ClusterConfig {
  try {
    return parseClusterConfig(process.env, need);
  } catch (err) {
    process.stderr.write(`mnsim ${service}: bad configuration: ${(err as Error).message}\n`);
    process.exit(2);
  }
}
