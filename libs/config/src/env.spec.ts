import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError } from './config-error.js';
import { ENV, envVar, integer, parseEnv, parseRunTimeout } from './env.js';

const schema = z.object({
  MNSIM_REDIS_URL: envVar(ENV.MNSIM_REDIS_URL),
  MNSIM_DATABASE_URL: envVar(ENV.MNSIM_DATABASE_URL),
  MNSIM_QUEUE_PREFIX: envVar(ENV.MNSIM_QUEUE_PREFIX),
  MNSIM_RUN_TIMEOUT: envVar(ENV.MNSIM_RUN_TIMEOUT),
  N: envVar(integer(1, 10)),
});

describe('the shared environment variables', () => {
  it('reads them trimmed; unset and blank are absent alike', () => {
    expect(
      parseEnv(schema, {
        MNSIM_REDIS_URL: ' redis://r:6379 ',
        MNSIM_DATABASE_URL: '   ',
        MNSIM_RUN_TIMEOUT: '90',
        N: '7',
      }),
    ).toEqual({
      MNSIM_REDIS_URL: 'redis://r:6379',
      MNSIM_DATABASE_URL: undefined,
      MNSIM_QUEUE_PREFIX: undefined,
      MNSIM_RUN_TIMEOUT: 90_000,
      N: 7,
    });
  });

  it.each([
    [{ MNSIM_REDIS_URL: 'http://r' }, 'MNSIM_REDIS_URL must be a redis:// or rediss:// URL'],
    [
      { MNSIM_DATABASE_URL: 'mysql://u:secret@db/x' },
      'MNSIM_DATABASE_URL must be a postgres:// or postgresql:// URL; unset it to use the SQLite store',
    ],
    [
      { MNSIM_QUEUE_PREFIX: 'a:b' },
      'MNSIM_QUEUE_PREFIX must be letters, digits, _ or -, at most 64 (no ":")',
    ],
    [
      { MNSIM_RUN_TIMEOUT: ' soon ' },
      'MNSIM_RUN_TIMEOUT must be a duration from 1 s to 24 h, in seconds or with ms, s or m (got "soon")',
    ],
    [{ N: '0' }, 'N must be an integer from 1 to 10'],
    [{ N: '2.5' }, 'N must be an integer from 1 to 10'],
    [{ N: 'x' }, 'N must be an integer from 1 to 10'],
  ])('%j: a ConfigError, one line naming the variable, never echoing a URL', (env, message) => {
    let error: unknown;
    try {
      parseEnv(schema, env);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toBe(message);
    expect((error as ConfigError).exitCode).toBe(2);
  });

  it('MNSIM_RUN_TIMEOUT alone: 60 s unset or blank, the same rule otherwise', () => {
    expect(parseRunTimeout(undefined)).toBe(60_000);
    expect(parseRunTimeout(' ')).toBe(60_000);
    expect(parseRunTimeout('1500ms')).toBe(1_500);
    expect(() => parseRunTimeout('25h')).toThrow(
      'MNSIM_RUN_TIMEOUT must be a duration from 1 s to 24 h, in seconds or with ms, s or m (got "25h")',
    );
  });
});
