/**
 * /metrics reports the cluster's queues (depth, workers, processed, failed) in Prometheus text
 * format, and the store's runs; without a cluster configured, only the store's lines.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveScenario } from '@mnsim/scenarios';
import { createApiApp } from '../../apps/api/src/index.js';
import { runDistributedWith } from '@mnsim/bus';
import { DATABASE_URL, REDIS_URL, type Env, inProcessCluster, testEnv } from './harness.js';

function metric(text: string, line: string): number {
  const m = text.split('\n').find((l) => l.startsWith(`${line} `));
  if (!m) throw new Error(`no metric ${line} in:\n${text}`);
  return Number(m.slice(line.length + 1));
}

describe('GET /metrics', () => {
  let env: Env;
  let stop: () => Promise<void>;
  let dir: string;
  beforeAll(async () => {
    env = await testEnv('metrics');
    stop = await inProcessCluster(env);
    dir = mkdtempSync(join(tmpdir(), 'mnsim-metrics-'));
  });
  afterAll(async () => {
    await stop?.();
    await env?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports every queue of the cluster and the runs', async () => {
    for (const name of ['oom-reap-arm64', 'oom-reap-x86']) {
      const { scenario, source } = resolveScenario(name);
      const run = await runDistributedWith(env.store, env.client, scenario, source, {
        timeoutMs: 20_000,
      });
      expect(run.status).toBe('completed');
    }
    const app = await createApiApp({
      host: '127.0.0.1',
      port: 0,
      token: null,
      bodyLimitBytes: 1024 * 1024,
      store: { url: DATABASE_URL, schema: env.schema },
      cluster: { redisUrl: REDIS_URL, prefix: env.prefix },
    });
    try {
      const res = await request(app.getHttpServer()).get('/metrics').expect(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = res.text;
      expect(text).toContain('# TYPE mnsim_queue_processed_total counter');
      for (const q of ['orchestrator', 'task', 'mm', 'oom', 'kvm-arm64', 'kvm-x86', 'auditor']) {
        expect(metric(text, `mnsim_queue_workers{queue="${q}"}`)).toBeGreaterThanOrEqual(1);
        expect(metric(text, `mnsim_queue_jobs{queue="${q}",state="waiting"}`)).toBe(0);
      }
      // the two OOM runs went through the mm, oom and both kvm queues
      for (const q of ['mm', 'oom', 'kvm-arm64', 'kvm-x86', 'orchestrator', 'auditor']) {
        expect(metric(text, `mnsim_queue_processed_total{queue="${q}"}`)).toBeGreaterThan(0);
      }
      expect(metric(text, 'mnsim_queue_processed_total{queue="kvm-mips"}')).toBe(0);
      expect(metric(text, 'mnsim_queue_failed_total{queue="mm"}')).toBe(0);
      expect(metric(text, 'mnsim_runs{status="completed"}')).toBe(2);
    } finally {
      await app.close();
    }
  });

  it('without a cluster, reports the store only', async () => {
    const app = await createApiApp({
      host: '127.0.0.1',
      port: 0,
      token: null,
      bodyLimitBytes: 1024 * 1024,
      store: { sqlitePath: join(dir, 'store.sqlite') },
    });
    try {
      const res = await request(app.getHttpServer()).get('/metrics').expect(200);
      expect(res.text).not.toContain('mnsim_queue_');
      expect(metric(res.text, 'mnsim_runs{status="completed"}')).toBe(0);
    } finally {
      await app.close();
    }
  });
});
