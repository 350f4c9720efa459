/**
 * /metrics reports the cluster's queues (depth, workers, processed, failed) in Prometheus text
 * format, the store's runs and the process's own metrics (event loop lag, heap, RSS); without a
 * cluster configured, no queue families. Every line parses as the text format 0.0.4.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveScenario } from '@mnsim/scenarios';
import { createApiApp } from '@mnsim/http';
import { runDistributedWith } from '@mnsim/bus';
import { DATABASE_URL, REDIS_URL, type Env, inProcessCluster, testEnv } from './harness.js';

function metric(text: string, line: string): number {
  const m = text.split('\n').find((l) => l.startsWith(`${line} `));
  if (!m) throw new Error(`no metric ${line} in:\n${text}`);
  return Number(m.slice(line.length + 1));
}

interface Family {
  help: string;
  type: string;
  samples: number;
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`;
/** a value as Go's ParseFloat reads it, which takes NaN and Inf in any case (prom-client: `Nan`) */
const VALUE = '[-+]?(?:[0-9.]+(?:[eE][-+]?[0-9]+)?|[Ii][Nn][Ff]|[Nn][Aa][Nn])';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(?:${LABEL}(?:,${LABEL})*)?\\})? (${VALUE})$`);
const SUFFIXES: Record<string, string[]> = {
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['_sum', '_count'],
};

/**
 * Every line of `text` as the Prometheus text format 0.0.4 has it: a family's HELP and TYPE once,
 * before its samples; samples of a declared family (or its histogram/summary series), with
 * well-formed labels and a number. Throws naming the first line that is not.
 */
function parsePrometheus(text: string): Map<string, Family> {
  expect(text.endsWith('\n')).toBe(true);
  const families = new Map<string, Family>();
  const familyOf = (name: string): Family | undefined => {
    const f = families.get(name);
    if (f) return f;
    for (const [base, fam] of families) {
      if ((SUFFIXES[fam.type] ?? []).some((s) => name === `${base}${s}`)) return fam;
    }
    return undefined;
  };
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue; // the format ignores empty lines (prom-client puts one between families)
    const meta = new RegExp(`^# (HELP|TYPE) (${NAME}) (.*)$`).exec(line);
    if (meta) {
      const [, kind, name, rest] = meta;
      const f = families.get(name) ?? { help: '', type: '', samples: 0 };
      if (kind === 'HELP') {
        if (f.help) throw new Error(`a second HELP: ${line}`);
        f.help = rest;
      } else {
        if (f.type || f.samples) throw new Error(`a TYPE twice or after samples: ${line}`);
        if (!/^(counter|gauge|histogram|summary|untyped)$/.test(rest)) throw new Error(line);
        f.type = rest;
      }
      families.set(name, f);
      continue;
    }
    const sample = SAMPLE.exec(line);
    if (!sample) throw new Error(`not a line of the text format: ${JSON.stringify(line)}`);
    const f = familyOf(sample[1]);
    if (!f?.type) throw new Error(`a sample of no declared family: ${line}`);
    f.samples++;
  }
  return families;
}

/** the process's own families (prom-client's default metrics) */
const PROCESS_FAMILIES = {
  process_resident_memory_bytes: 'gauge',
  process_cpu_seconds_total: 'counter',
  nodejs_eventloop_lag_seconds: 'gauge',
  nodejs_eventloop_lag_p99_seconds: 'gauge',
  nodejs_heap_size_used_bytes: 'gauge',
  nodejs_gc_duration_seconds: 'histogram',
};

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
      const families = parsePrometheus(text);
      // the families, their types and meanings as they were when written by hand
      expect(families.get('mnsim_queue_jobs')).toMatchObject({
        type: 'gauge',
        help: 'Jobs in a queue, by state (queue depth).',
      });
      expect(families.get('mnsim_queue_workers')).toMatchObject({
        type: 'gauge',
        help: 'Workers connected to a queue.',
      });
      expect(families.get('mnsim_queue_processed_total')).toMatchObject({
        type: 'counter',
        help: "Jobs a queue's workers completed.",
      });
      expect(families.get('mnsim_queue_failed_total')).toMatchObject({
        type: 'counter',
        help: 'Jobs that failed on a queue (each failed attempt).',
      });
      expect(families.get('mnsim_runs')).toMatchObject({
        type: 'gauge',
        help: 'Runs in the store, by status.',
        samples: 3,
      });
      const queues = families.get('mnsim_queue_workers')!.samples;
      expect(queues).toBeGreaterThanOrEqual(9);
      expect(families.get('mnsim_queue_jobs')!.samples).toBe(4 * queues);
      expect(families.get('mnsim_queue_processed_total')!.samples).toBe(queues);
      expect(families.get('mnsim_queue_failed_total')!.samples).toBe(queues);
      for (const [name, type] of Object.entries(PROCESS_FAMILIES)) {
        expect(families.get(name)?.type, name).toBe(type);
      }
      expect(metric(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
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
      expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(res.text).not.toContain('mnsim_queue_');
      expect(metric(res.text, 'mnsim_runs{status="completed"}')).toBe(0);
      const families = parsePrometheus(res.text);
      for (const [name, type] of Object.entries(PROCESS_FAMILIES)) {
        expect(families.get(name)?.type, name).toBe(type);
      }
      expect(metric(res.text, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
      // (the lag's mean is NaN until the loop's delay has been sampled once: present, not a number)
      expect(families.get('nodejs_eventloop_lag_p99_seconds')?.samples).toBe(1);
    } finally {
      await app.close();
    }
  });
});
