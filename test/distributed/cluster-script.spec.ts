/**
 * `npm run cluster` (scripts/cluster.mjs), as design.md describes it: every worker (kvm once per
 * architecture) and the api (HTTP and orchestrator), from dist/, against the given Redis and
 * Postgres; N replicas of each, every api on a port of its own; SIGTERM stops them all.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARCHES } from '@mnsim/kernel';
import { type Env, testEnv } from './harness.js';
import { buildDist, clusterEnv } from './processes.js';

const ROOT = join(import.meta.dirname, '../..');
/** the processes of one replica: api, auditor, mmu-notifier, oom-killer, kvm per arch */
const APPS = 4 + ARCHES.length;

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

  it('starts 2 replicas of every worker and of the api, which see them all; SIGTERM stops all', async () => {
    // the first api on MNSIM_API_PORT, the second on the port above: a high one, picked at random
    // so that two runs of this test on one machine do not collide
    const port = 30_000 + Math.floor(Math.random() * 20_000);
    cluster = spawn(process.execPath, [join(ROOT, 'scripts/cluster.mjs'), '--replicas', '2'], {
      env: { ...clusterEnv(env.prefix, env.schema), MNSIM_API_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cluster.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    cluster.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((r) => cluster?.once('exit', (code) => r(code)));

    expect(
      (await seen(/(\d+) processes \(2 replicas of each worker and of the api\)/, 'summary'))[1],
    ).toBe(String(2 * APPS));
    // every process serves its queues, the api replicas too (they are the orchestrators)
    await seen(new RegExp(`("message":"serving"[^\\n]*\\n[^]*){${2 * APPS}}`), 'workers');
    await seen(/listening on[^]*listening on/, 'both apis listening');
    const listening = output.split('\n').filter((line) => line.includes('listening on'));
    expect(listening).toHaveLength(2);
    // the apis log as the workers do: one JSON object a line; each on a port of its own
    const urls = listening.map((line) => {
      const parsed = JSON.parse(line) as { message: string };
      expect(parsed).toMatchObject({ level: 'log', context: 'api' });
      expect(parsed.message).toContain(`orchestrating the runs of queue prefix ${env.prefix}`);
      return /listening on (http:\/\/[^\s]+)/.exec(parsed.message)?.[1] ?? '';
    });
    expect(urls.map((u) => new URL(u).port).sort()).toEqual([String(port), String(port + 1)]);
    const url = urls[0];

    // the api reads the cluster's Redis: every queue has its two workers
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const workers = [...metrics.matchAll(/^mnsim_queue_workers\{queue="([^"]+)"\} (\d+)$/gm)];
    expect(workers.length).toBeGreaterThanOrEqual(APPS + 1); // the api serves orchestrator, task
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
