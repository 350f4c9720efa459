/**
 * The environment variables more than one process reads, each with one rule and one wording,
 * and the one way a process's schema is read from the environment. Each app's schema (the CLI's,
 * the API's, the cluster workers') is composed of these parts and its own.
 *
 * A variable set to blanks is unset, as `VAR=` in a shell or a compose file leaves it. A bad value
 * is a ConfigError naming the variable: `MNSIM_REDIS_URL must be a redis:// or rediss:// URL`.
 * URLs are never echoed (they may hold a password); durations and counts are.
 */
import { z } from 'zod';
import { ConfigError } from './config-error.js';
import { DEFAULT_RUN_TIMEOUT_MS, RUN_TIMEOUT_RULE, runTimeoutMs } from './run-timeout.js';

/** `schema` for a variable that may be unset: blank is unset, the value is trimmed. */
export function envVar<S extends z.ZodType>(schema: S) {
  return z.preprocess(
    (v) => (typeof v !== 'string' ? v : v.trim() === '' ? undefined : v.trim()),
    schema.optional(),
  );
}

/** An integer from `min` to `max`, in one wording whatever is wrong with it. */
export function integer(min: number, max: number) {
  const error = `must be an integer from ${min} to ${max}`;
  return z.coerce.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}

/**
 * A duration's text read by `parse` into ms (null: not one), refused with `rule` and the text
 * given: `must be a duration from 1 s to 24 h, … (got "soon")`.
 */
export function duration(parse: (raw: string) => number | null, rule: string) {
  return z.string().transform((raw, ctx) => {
    const ms = parse(raw);
    if (ms === null) {
      ctx.addIssue({ code: 'custom', message: `must be ${rule} (got ${JSON.stringify(raw)})` });
      return z.NEVER;
    }
    return ms;
  });
}

/** The shared variables, each as its text must be. */
export const ENV = {
  MNSIM_REDIS_URL: z.string().regex(/^rediss?:\/\/\S+$/, {
    error: 'must be a redis:// or rediss:// URL',
  }),
  MNSIM_DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\/\S+$/, {
    error: 'must be a postgres:// or postgresql:// URL; unset it to use the SQLite store',
  }),
  MNSIM_DATABASE_SCHEMA: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, {
    error: 'must be a Postgres schema name: letters, digits and _, at most 63',
  }),
  MNSIM_SQLITE_PATH: z.string(),
  MNSIM_QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, {
    error: 'must be letters, digits, _ or -, at most 64 (no ":")',
  }),
  /** in ms */
  MNSIM_RUN_TIMEOUT: duration(runTimeoutMs, RUN_TIMEOUT_RULE),
} as const;

/** The shared variables as a process reads them: each may be unset. An app's schema spreads it. */
export const SHARED_ENV = {
  MNSIM_REDIS_URL: envVar(ENV.MNSIM_REDIS_URL),
  MNSIM_DATABASE_URL: envVar(ENV.MNSIM_DATABASE_URL),
  MNSIM_DATABASE_SCHEMA: envVar(ENV.MNSIM_DATABASE_SCHEMA),
  MNSIM_SQLITE_PATH: envVar(ENV.MNSIM_SQLITE_PATH),
  MNSIM_QUEUE_PREFIX: envVar(ENV.MNSIM_QUEUE_PREFIX),
  /** in ms */
  MNSIM_RUN_TIMEOUT: envVar(ENV.MNSIM_RUN_TIMEOUT),
} as const;

/** Reads `schema` from `env`; throws a ConfigError naming the first bad variable. */
export function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.output<S> {
  const r = schema.safeParse(env);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new ConfigError(`${issue.path.join('.') || 'environment'} ${issue.message}`);
  }
  return r.data;
}

/**
 * MNSIM_RUN_TIMEOUT, in ms; unset or blank: 60 s.
 * @throws ConfigError naming the variable and what it accepts
 */
export function parseRunTimeout(raw: string | undefined): number {
  const schema = z.object({ MNSIM_RUN_TIMEOUT: SHARED_ENV.MNSIM_RUN_TIMEOUT });
  return parseEnv(schema, { MNSIM_RUN_TIMEOUT: raw }).MNSIM_RUN_TIMEOUT ?? DEFAULT_RUN_TIMEOUT_MS;
}
