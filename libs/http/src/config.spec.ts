import { describe, expect, it } from 'vitest';
import { DEFAULT_RUN_LIMITS } from '@mnsim/events';
import { ApiConfigError, loadApiConfig } from './config.js';

const TOKEN = 'abcdefghijklmnop';

describe('loadApiConfig', () => {
  it('defaults: loopback, port 8080, no token, the SQLite store, 1 MiB bodies', () => {
    expect(loadApiConfig({})).toEqual({
      host: '127.0.0.1',
      port: 8080,
      token: null,
      bodyLimitBytes: 1024 * 1024,
      store: { sqlitePath: undefined },
      cluster: null,
      orchestrator: null,
      runTimeoutMs: 60_000,
      simulation: {
        threads: undefined,
        queue: undefined,
        niceness: undefined,
        limits: DEFAULT_RUN_LIMITS,
      },
    });
  });

  it('reads every variable', () => {
    expect(
      loadApiConfig({
        MNSIM_API_HOST: ' 0.0.0.0 ',
        MNSIM_API_PORT: '9000',
        MNSIM_API_TOKEN: TOKEN,
        MNSIM_DATABASE_URL: 'postgres://u:p@db:5432/mnsim',
        MNSIM_DATABASE_SCHEMA: 'hist',
        MNSIM_SQLITE_PATH: '/ignored/with/postgres.sqlite',
        MNSIM_REDIS_URL: 'redis://cache:6379',
        MNSIM_QUEUE_PREFIX: 'lab',
        MNSIM_RUN_TIMEOUT: '90',
        MNSIM_API_THREADS: '3',
        MNSIM_API_QUEUE: '0',
        MNSIM_API_NICE: '0',
        MNSIM_MAX_RUN_EVENTS: '1_000_000',
        MNSIM_MAX_RUN_BYTES: '1000000000',
        MNSIM_MAX_TRACE_ENTRIES: '509',
      }),
    ).toEqual({
      host: '0.0.0.0',
      port: 9000,
      token: TOKEN,
      bodyLimitBytes: 1024 * 1024,
      store: { url: 'postgres://u:p@db:5432/mnsim', schema: 'hist' },
      cluster: { redisUrl: 'redis://cache:6379', prefix: 'lab' },
      // given a cluster, the api orchestrates its runs, with the workers' settings
      orchestrator: {
        MNSIM_REDIS_URL: 'redis://cache:6379',
        MNSIM_DATABASE_URL: 'postgres://u:p@db:5432/mnsim',
        MNSIM_DATABASE_SCHEMA: 'hist',
        MNSIM_QUEUE_PREFIX: 'lab',
        MNSIM_CONCURRENCY: 32,
        MNSIM_LOCK_DURATION_MS: 4_000,
        MNSIM_STALLED_INTERVAL_MS: 1_000,
        MNSIM_RUN_TIMEOUT: 90_000,
        MNSIM_MAX_RUN_EVENTS: 1_000_000,
      },
      runTimeoutMs: 90_000,
      simulation: {
        threads: 3,
        queue: 0,
        niceness: 0,
        limits: { maxEvents: 1_000_000, maxBytes: 1_000_000_000, maxTraceEntries: 509 },
      },
    });
    expect(loadApiConfig({ MNSIM_REDIS_URL: 'redis://r:1' }).cluster).toEqual({
      redisUrl: 'redis://r:1',
      prefix: 'mnsim',
    });
    expect(() => loadApiConfig({ MNSIM_REDIS_URL: 'http://r:1' })).toThrow(
      'MNSIM_REDIS_URL must be a redis:// or rediss:// URL',
    );
    expect(loadApiConfig({ MNSIM_SQLITE_PATH: 'x/y.sqlite', MNSIM_API_HOST: '::1' })).toMatchObject(
      {
        host: '::1',
        store: { sqlitePath: 'x/y.sqlite' },
      },
    );
    expect(loadApiConfig({ MNSIM_API_PORT: '0', MNSIM_DATABASE_URL: ' ' }).port).toBe(0);
  });

  it('orchestrates the cluster it is given, unless MNSIM_ORCHESTRATOR is off', () => {
    const cluster = { MNSIM_REDIS_URL: 'redis://r:1', MNSIM_CONCURRENCY: '4' };
    expect(loadApiConfig(cluster).orchestrator).toMatchObject({
      MNSIM_REDIS_URL: 'redis://r:1',
      MNSIM_QUEUE_PREFIX: 'mnsim',
      MNSIM_CONCURRENCY: 4,
    });
    expect(loadApiConfig({ ...cluster, MNSIM_ORCHESTRATOR: 'on' }).orchestrator).not.toBeNull();
    const readOnly = loadApiConfig({ ...cluster, MNSIM_ORCHESTRATOR: ' off ' });
    expect(readOnly.orchestrator).toBeNull();
    expect(readOnly.cluster).toEqual({ redisUrl: 'redis://r:1', prefix: 'mnsim' });
    // no cluster, nothing to orchestrate
    expect(loadApiConfig({ MNSIM_ORCHESTRATOR: 'on' }).orchestrator).toBeNull();
    // the workers' variables are not read without a cluster: no error for what is not used
    expect(loadApiConfig({ MNSIM_CONCURRENCY: 'many' }).orchestrator).toBeNull();
  });

  it.each([
    [{ MNSIM_API_PORT: 'http' }, 'MNSIM_API_PORT must be a port number from 0 to 65535'],
    [{ MNSIM_API_PORT: '65536' }, 'MNSIM_API_PORT must be a port number from 0 to 65535'],
    [{ MNSIM_API_PORT: '-1' }, 'MNSIM_API_PORT must be a port number from 0 to 65535'],
    [{ MNSIM_API_HOST: 'a host' }, 'MNSIM_API_HOST must be a host name or an IP address'],
    [
      { MNSIM_API_TOKEN: '' },
      'MNSIM_API_TOKEN must be at least 16 characters (unset it to serve without authentication)',
    ],
    [{ MNSIM_API_TOKEN: 'short' }, 'MNSIM_API_TOKEN must be at least 16 characters'],
    [{ MNSIM_API_TOKEN: `${TOKEN} x` }, 'MNSIM_API_TOKEN must be printable ASCII without spaces'],
    [
      { MNSIM_DATABASE_URL: 'mysql://u:secret@db/x' },
      'MNSIM_DATABASE_URL must be a postgres:// or postgresql:// URL',
    ],
    [
      { MNSIM_DATABASE_URL: 'postgres://db/x', MNSIM_DATABASE_SCHEMA: 'a-b' },
      'MNSIM_DATABASE_SCHEMA must be a Postgres schema name',
    ],
    [{ MNSIM_ORCHESTRATOR: 'yes' }, 'MNSIM_ORCHESTRATOR must be on or off'],
    [{ MNSIM_API_THREADS: '0' }, 'MNSIM_API_THREADS must be a number of threads from 1 to 64'],
    [{ MNSIM_API_THREADS: 'all' }, 'MNSIM_API_THREADS must be a number of threads from 1 to 64'],
    [{ MNSIM_API_QUEUE: '1025' }, 'MNSIM_API_QUEUE must be a number of requests from 0 to 1024'],
    [{ MNSIM_API_NICE: '20' }, 'MNSIM_API_NICE must be a niceness from 0 to 19'],
    [{ MNSIM_API_NICE: '-1' }, 'MNSIM_API_NICE must be a niceness from 0 to 19'],
    [{ MNSIM_MAX_RUN_EVENTS: '0' }, 'MNSIM_MAX_RUN_EVENTS must be a positive integer'],
    // read as the CLI reads it, with or without a cluster
    [
      { MNSIM_RUN_TIMEOUT: 'soon' },
      'MNSIM_RUN_TIMEOUT must be a duration from 1 s to 24 h, in seconds or with ms, s or m (got "soon")',
    ],
    [
      { MNSIM_REDIS_URL: 'redis://r:1', MNSIM_RUN_TIMEOUT: '999ms' },
      'MNSIM_RUN_TIMEOUT must be a duration from 1 s to 24 h',
    ],
    // the orchestrator's settings are the workers', checked as theirs
    [
      { MNSIM_REDIS_URL: 'redis://r:1', MNSIM_CONCURRENCY: '0' },
      'MNSIM_CONCURRENCY must be an integer from 1 to 1000',
    ],
    [
      { MNSIM_REDIS_URL: 'redis://r:1', MNSIM_LOCK_DURATION_MS: 'x' },
      'MNSIM_LOCK_DURATION_MS must be an integer from 500 to 600000',
    ],
  ])('refuses %j with one line naming the variable', (env, reason) => {
    let error: unknown;
    try {
      loadApiConfig(env);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ApiConfigError);
    const { message, exitCode } = error as ApiConfigError;
    expect(message.startsWith(reason)).toBe(true);
    expect(message).not.toContain('\n');
    expect(message).not.toContain('secret');
    expect(exitCode).toBe(2);
  });
});
