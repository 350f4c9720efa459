/**
 * `npm run cluster` (scripts/cluster.mjs), as design.md describes it: every worker (kvm once per
 * architecture) and the api, from dist/, against the given Redis and Postgres; one api whatever
 * the replicas; SIGTERM stops them all.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARCHES } from '@mnsim/kernel';
import { type Env, testEnv } from './harness.js';
import { buildDist, clusterEnv } from './processes.js';

const ROOT = join(import.meta.dirname, '../..');
const WORKERS = 4 + ARCHES.length; // orchestrator, auditor, mmu-notifier, oom-killer, kvm per arch

describe('npm run cluster', () => {
  let env: Env;
  let cluster: ChildProcess | null = null;
  let output = '';
  beforeAll(async () => {
    if (!process.env.MNSIM_TEST_SKIP_BUILD) buildDist();
    env = await testEnv('clusterjs');
  }, 120_000);
  afterAll(async () => {
    if (cluster && cluster.exitCode === null) cluster.kill('SIGKILL');
    await env?.cleanup();
  });

  /** Resolves once `pattern` matches the cluster's output so far. */
  const seen = (pattern: RegExp, what: string): Promise<RegExpMatchArray> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no ${what} within 90 s: ${output.slice(-3000)}`)),
        90_000,
      );
      const check = (): void => {
        const m = output.match(pattern);
        if (m) {
          clearTimeout(timer);
          resolve(m);
        } else setTimeout(check, 100);
      };
      check();
    });

  it('starts every worker, 2 replicas each, and one api that sees them; SIGTERM stops all', async () => {
    cluster = spawn(process.execPath, [join(ROOT, 'scripts/cluster.mjs'), '--replicas', '2'], {
      env: { ...clusterEnv(env.prefix, env.schema), MNSIM_API_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cluster.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    cluster.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((r) => cluster?.once('exit', (code) => r(code)));

    expect(
      (await seen(/(\d+) processes \(2 replicas of each worker, one api\)/, 'summary'))[1],
    ).toBe(String(2 * WORKERS + 1));
    const url = (await seen(/listening on (http:\/\/[^\s]+)/, 'api'))[1];
    // the api logs as the workers do: one JSON object a line
    const listening = output.split('\n').find((line) => line.includes('listening on'));
    expect(JSON.parse(listening ?? '')).toMatchObject({ level: 'log', context: 'api' });
    await seen(new RegExp(`("message":"serving"[^\\n]*\\n[^]*){${2 * WORKERS}}`), 'workers');

    // the api reads the cluster's Redis: every queue has its two workers
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const workers = [...metrics.matchAll(/^mnsim_queue_workers\{queue="([^"]+)"\} (\d+)$/gm)];
    expect(workers.length).toBeGreaterThanOrEqual(WORKERS);
    for (const [, queue, n] of workers) {
      if (queue !== 'dead-letter') expect(Number(n), queue).toBe(2);
    }
    // and the cluster's Postgres (the schema of this test)
    expect((await fetch(`${url}/health`)).status).toBe(200);
    expect(await (await fetch(`${url}/health`)).json()).toMatchObject({ store: 'postgres' });

    cluster.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 180_000);
});
