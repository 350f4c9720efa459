/**
 * The API's configuration, read from the environment once at start and validated: a wrong value
 * stops `mnsim serve` with one line naming the variable, before anything listens.
 *
 *   MNSIM_API_HOST         address to listen on; default 127.0.0.1 (loopback only)
 *   MNSIM_API_PORT         0..65535; default 8080 (0: any free port)
 *   MNSIM_API_TOKEN        when set, every request but GET /health needs `Authorization: Bearer <it>`;
 *                          at least 16 printable characters, no spaces; set but empty is an error
 *   MNSIM_DATABASE_URL     postgres://… selects Postgres (MNSIM_DATABASE_SCHEMA: its schema)
 *   MNSIM_SQLITE_PATH      otherwise the SQLite file; default .mnsim/mnsim.sqlite
 *   MNSIM_REDIS_URL        the cluster: /metrics reports its queues, and the api orchestrates its
 *                          runs (design.md: the api is the orchestrator); the workers' variables
 *                          (MNSIM_QUEUE_PREFIX, MNSIM_CONCURRENCY, …) apply, validated as theirs
 *   MNSIM_ORCHESTRATOR     on|off; default on. off: an api that serves HTTP only (a read replica
 *                          beside the cluster's own api), reporting the cluster without driving it
 *   MNSIM_RUN_TIMEOUT      default 60 s: a run still running with no sign of life for this long
 *                          is failed (its client or orchestrator is gone); as the CLI reads it
 *   MNSIM_API_THREADS      worker threads that simulate POST /runs and replays, 1..64; default the
 *                          cores, at most 4 (an in-memory SQLite store: none, on the request thread)
 *   MNSIM_API_QUEUE        requests that may wait for a thread, 0..1024; default twice the threads;
 *                          past them, 429 with Retry-After
 *   MNSIM_API_NICE         how much lower than the request thread the simulation threads run,
 *                          0..19 (nice(2)); default 10. 0 where a container's CPU share already
 *                          keeps them apart, or where other work on the host runs at nice 0 and
 *                          would starve them
 *   MNSIM_MAX_RUN_EVENTS, MNSIM_MAX_RUN_BYTES, MNSIM_MAX_TRACE_ENTRIES
 *                          what one run or replay may produce; as the CLI reads them
 */
import { type ClusterConfig, parseClusterConfig } from '@mnsim/bus';
import { ConfigError, DEFAULT_RUN_TIMEOUT_MS, SHARED_ENV, envVar, parseEnv } from '@mnsim/config';
import { InvalidRunLimitError, type RunLimits, runLimitsFromEnv } from '@mnsim/events';
import { DEFAULT_SQLITE_PATH, type StoreOptions } from '@mnsim/store';
import type { SimulationSettings } from './simulation-pool.js';
import { z } from 'zod';

export interface ApiConfig {
  host: string;
  port: number;
  /** null: no authentication, which only makes sense on a loopback address */
  token: string | null;
  /** largest request body accepted; larger ones get 413 */
  bodyLimitBytes: number;
  store: StoreOptions;
  /** the cluster whose queues /metrics reports; null: no cluster, /metrics has no queue lines */
  cluster?: { redisUrl: string; prefix: string } | null;
  /**
   * the cluster this api orchestrates (serves the orchestrator and task queues of); null or
   * absent: none, the api serves HTTP only
   */
  orchestrator?: ClusterConfig | null;
  /**
   * MNSIM_RUN_TIMEOUT in ms: the runs still running whose last sign of life is older are failed
   * (absent: 60 s)
   */
  runTimeoutMs?: number;
  /** the simulation pool's threads, queue and niceness (absent: the defaults), and the runs' limits */
  simulation?: SimulationSettings;
  /**
   * once stopping, how long requests in flight may take before their connections are closed, and
   * then the simulations still running before their threads are (absent: 4 s)
   */
  shutdownGraceMs?: number;
}

/** A configuration the API cannot start with; exit status 2, like any bad input. */
export class ApiConfigError extends ConfigError {}

export const DEFAULT_API_HOST = '127.0.0.1';
export const DEFAULT_API_PORT = 8080;
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;
export const MIN_TOKEN_LENGTH = 16;

/** unset and blank variables are absent (as everywhere, @mnsim/config), except MNSIM_API_TOKEN */
const optional = envVar(z.string());

const envSchema = z.object({
  ...SHARED_ENV,
  MNSIM_API_HOST: optional.pipe(
    z
      .string()
      // a host name, an IPv4 address or an IPv6 address (optionally with a zone): nothing else
      .regex(/^[A-Za-z0-9.:%_-]+$/, {
        error: 'must be a host name or an IP address, such as 127.0.0.1, 0.0.0.0 or ::1',
      })
      .default(DEFAULT_API_HOST),
  ),
  MNSIM_API_PORT: optional.pipe(
    z
      .string()
      .regex(/^\d{1,5}$/, { error: 'must be a port number from 0 to 65535' })
      .transform(Number)
      .pipe(z.number().max(65535, { error: 'must be a port number from 0 to 65535' }))
      .default(DEFAULT_API_PORT),
  ),
  // Set but empty is refused rather than read as "no token": `MNSIM_API_TOKEN=${TOKEN}` with TOKEN
  // unset must not quietly start an API that anyone can use.
  MNSIM_API_TOKEN: z
    .string()
    .regex(/^[\x21-\x7e]*$/, {
      error: 'must be printable ASCII without spaces (it is sent in an HTTP header)',
    })
    .min(MIN_TOKEN_LENGTH, {
      error: `must be at least ${MIN_TOKEN_LENGTH} characters (unset it to serve without authentication)`,
    })
    .optional(),
  MNSIM_API_THREADS: optional.pipe(
    z
      .string()
      .regex(/^\d{1,2}$/, { error: 'must be a number of threads from 1 to 64' })
      .transform(Number)
      .pipe(
        z
          .number()
          .min(1, { error: 'must be a number of threads from 1 to 64' })
          .max(64, { error: 'must be a number of threads from 1 to 64' }),
      )
      .optional(),
  ),
  MNSIM_API_QUEUE: optional.pipe(
    z
      .string()
      .regex(/^\d{1,4}$/, { error: 'must be a number of requests from 0 to 1024' })
      .transform(Number)
      .pipe(z.number().max(1024, { error: 'must be a number of requests from 0 to 1024' }))
      .optional(),
  ),
  MNSIM_API_NICE: optional.pipe(
    z
      .string()
      .regex(/^\d{1,2}$/, { error: 'must be a niceness from 0 to 19' })
      .transform(Number)
      .pipe(z.number().max(19, { error: 'must be a niceness from 0 to 19' }))
      .optional(),
  ),
  MNSIM_ORCHESTRATOR: optional.pipe(
    z.enum(['on', 'off'], { error: 'must be on or off' }).default('on'),
  ),
});

/** Reads the API's configuration from `env`; throws ApiConfigError naming the first bad variable. */
export function loadApiConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  let e: z.output<typeof envSchema>;
  try {
    // the value is not echoed where it may be a token or a URL with a password
    e = parseEnv(envSchema, env);
  } catch (err) {
    if (err instanceof ConfigError) throw new ApiConfigError(err.message);
    throw err;
  }
  let orchestrator: ClusterConfig | null = null;
  let limits: RunLimits;
  try {
    limits = runLimitsFromEnv(env);
    if (e.MNSIM_REDIS_URL !== undefined && e.MNSIM_ORCHESTRATOR === 'on') {
      orchestrator = parseClusterConfig(env);
    }
  } catch (err) {
    if (err instanceof ConfigError || err instanceof InvalidRunLimitError) {
      throw new ApiConfigError(err.message);
    }
    throw err;
  }
  return {
    host: e.MNSIM_API_HOST,
    port: e.MNSIM_API_PORT,
    token: e.MNSIM_API_TOKEN ?? null,
    bodyLimitBytes: DEFAULT_BODY_LIMIT_BYTES,
    store:
      e.MNSIM_DATABASE_URL !== undefined
        ? { url: e.MNSIM_DATABASE_URL, schema: e.MNSIM_DATABASE_SCHEMA }
        : { sqlitePath: e.MNSIM_SQLITE_PATH },
    cluster:
      e.MNSIM_REDIS_URL !== undefined
        ? { redisUrl: e.MNSIM_REDIS_URL, prefix: e.MNSIM_QUEUE_PREFIX ?? 'mnsim' }
        : null,
    orchestrator,
    runTimeoutMs: e.MNSIM_RUN_TIMEOUT ?? DEFAULT_RUN_TIMEOUT_MS,
    simulation: {
      threads: e.MNSIM_API_THREADS,
      queue: e.MNSIM_API_QUEUE,
      niceness: e.MNSIM_API_NICE,
      limits,
    },
  };
}

/** The store as one line says it, without a password. */
export function describeStore(store: StoreOptions): string {
  if (store.url) {
    const url = store.url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
    return store.schema ? `${url} (schema ${store.schema})` : url;
  }
  return store.sqlitePath ?? DEFAULT_SQLITE_PATH;
}

/** Loopback addresses: the only ones where serving without a token is the safe default. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
