/**
 * The distributed services' configuration, from the environment, validated once at start: a
 * wrong value stops the process with a one-line reason.
 */
import { z } from 'zod';
import { ARCHES } from '@mnsim/kernel';
import { runLimitsFromEnv } from '@mnsim/events';
import { ConfigError, RUN_TIMEOUT_RULE, runTimeoutMs } from '@mnsim/runtime';
import { DEFAULT_LOCK_DURATION_MS, DEFAULT_STALLED_INTERVAL_MS } from './redis-bus.js';
import { DLQ_AGE_RULE, parseDeadLetterAge } from './dead-letters.js';
import { WORKER_CONCURRENCY } from './topology.js';

const int = (min: number, max: number, dflt: number) =>
  z.coerce.number().int().min(min).max(max).default(dflt);

export const clusterEnvSchema = z.object({
  MNSIM_REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\/\S+$/, 'expected redis://host:port')
    .default('redis://127.0.0.1:6379'),
  MNSIM_DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\/\S+$/, 'expected postgres://…')
    .default('postgres://postgres@127.0.0.1:5432/postgres'),
  /** a Postgres schema of its own (tests) */
  MNSIM_DATABASE_SCHEMA: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'letters, digits and _ only')
    .optional(),
  MNSIM_QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and - only (no ":")')
    .default('mnsim'),
  MNSIM_CONCURRENCY: int(
    WORKER_CONCURRENCY.min,
    WORKER_CONCURRENCY.max,
    WORKER_CONCURRENCY.default,
  ),
  MNSIM_LOCK_DURATION_MS: int(500, 600_000, DEFAULT_LOCK_DURATION_MS),
  MNSIM_STALLED_INTERVAL_MS: int(200, 600_000, DEFAULT_STALLED_INTERVAL_MS),
  /** the dead-letter queue's cap (dead-letters.ts); unset: 10,000 entries, 7 days */
  MNSIM_DLQ_MAX_ENTRIES: z.coerce.number().int().min(1).max(10_000_000).optional(),
  /** in ms once parsed: `7d`, `12h`, `90m`, seconds alone */
  MNSIM_DLQ_MAX_AGE: z
    .string()
    .transform((raw, ctx) => {
      const ms = parseDeadLetterAge(raw);
      if (ms === null) {
        ctx.addIssue({ code: 'custom', message: `expected ${DLQ_AGE_RULE}` });
        return z.NEVER;
      }
      return ms;
    })
    .optional(),
  /** in ms once parsed (parseRunTimeout); unset: 60 s */
  MNSIM_RUN_TIMEOUT: z
    .string()
    .transform((raw, ctx) => {
      const ms = runTimeoutMs(raw);
      if (ms === null) {
        ctx.addIssue({ code: 'custom', message: `expected ${RUN_TIMEOUT_RULE}` });
        return z.NEVER;
      }
      return ms;
    })
    .optional(),
  /** the orchestrator fails a run past this many events (runLimitsFromEnv reads it); unset: 100,000 */
  MNSIM_MAX_RUN_EVENTS: z
    .string()
    .transform((raw, ctx) => {
      try {
        return runLimitsFromEnv({ MNSIM_MAX_RUN_EVENTS: raw }).maxEvents;
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    })
    .optional(),
  KVM_ARCH: z.enum(ARCHES).optional(),
  /** a file the process touches while it is alive, for a container's health check (supervision.ts) */
  MNSIM_HEARTBEAT_FILE: z.string().optional(),
});

export type ClusterConfig = z.infer<typeof clusterEnvSchema>;

/** @throws ConfigError naming the variable and the reason */
export function parseClusterConfig(
  env: NodeJS.ProcessEnv,
  need: { kvmArch?: boolean } = {},
): ClusterConfig {
  const clean = Object.fromEntries(
    Object.entries(env).filter(([, v]) => v !== undefined && v !== ''),
  );
  const r = clusterEnvSchema.safeParse(clean);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new ConfigError(`${i?.path.join('.') || 'environment'}: ${i?.message ?? 'invalid'}`);
  }
  if (need.kvmArch && !r.data.KVM_ARCH) {
    throw new ConfigError(`KVM_ARCH: required, one of ${ARCHES.join(', ')}`);
  }
  return r.data;
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
