/**
 * A distributed campaign is the embedded one: the same seed gives the same campaignHash and the
 * same violations by signature, whichever runs finish first on the cluster.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { fuzzCommand } from '../../apps/cli/src/commands/fuzz.js';
import { DATABASE_URL, REDIS_URL, type Env, inProcessCluster, testEnv } from './harness.js';

async function captured(run: () => Promise<number>): Promise<{ code: number; out: string }> {
  let out = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
    out += String(c);
    return true;
  });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    return { code: await run(), out };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

describe('mnsim fuzz --distributed', () => {
  let env: Env;
  let stop: () => Promise<void>;
  let dir: string;
  beforeAll(async () => {
    env = await testEnv('fuzz');
    stop = await inProcessCluster(env);
    dir = mkdtempSync(join(tmpdir(), 'mnsim-fuzz-'));
  });
  afterAll(async () => {
    await stop?.();
    await env?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives the embedded campaign: same campaignHash, same summary', async () => {
    const opts = { runs: 16, seed: 9, json: true };
    const embedded = await captured(() =>
      fuzzCommand(opts, { store: { sqlitePath: join(dir, 'e.sqlite') }, redisUrl: null }),
    );
    const distributed = await captured(() =>
      fuzzCommand(
        { ...opts, distributed: true },
        {
          store: { url: DATABASE_URL, schema: env.schema },
          redisUrl: REDIS_URL,
          queuePrefix: env.prefix,
        },
      ),
    );
    expect(embedded.code).toBe(0);
    expect(distributed.code).toBe(0);
    const e = JSON.parse(embedded.out);
    const d = JSON.parse(distributed.out);
    expect(e).toMatchObject({ runs: 16, completed: 16, failed: 0 });
    expect(d).toEqual(e);
  });
});
