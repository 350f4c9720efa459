/**
 * Runs are never orphaned (issue 15), on the cluster's side: the auditor, which has the store,
 * fails the runs that have shown no sign of life for MNSIM_RUN_TIMEOUT, as the api does, one JSON
 * log line each; the sweeper never throws and says once per quiet period when the store is away.
 * The api's sweep is test/api/stale-runs.spec.ts; the store's update, both dialects,
 * libs/store/src/stale-runs.spec.ts.
 */
import { NestFactory } from '@nestjs/core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type BusLogger,
  StaleRunSweeper,
  parseClusterConfig,
  staleRunReason,
  staleSweepIntervalOf,
} from '@mnsim/bus';
import { ConfigError } from '@mnsim/config';
import type { Store } from '@mnsim/store';
import { AuditorModule } from '../../apps/auditor/src/auditor.module.js';
import { DATABASE_URL, type Env, REDIS_URL, testEnv } from './harness.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const run = (runId: string) => ({
  runId,
  scenario: 'oom-reap-arm64',
  kernel: '5.8',
  arch: 'arm64',
  seed: 1,
});

describe('MNSIM_RUN_TIMEOUT in the cluster config', () => {
  it('is read in ms, as the CLI reads it; unset, the sweep takes 60 s', () => {
    expect(parseClusterConfig({ MNSIM_RUN_TIMEOUT: '2m' }).MNSIM_RUN_TIMEOUT).toBe(120_000);
    expect(parseClusterConfig({ MNSIM_RUN_TIMEOUT: '1500ms' }).MNSIM_RUN_TIMEOUT).toBe(1_500);
    expect(parseClusterConfig({}).MNSIM_RUN_TIMEOUT).toBeUndefined();
    expect(() => parseClusterConfig({ MNSIM_RUN_TIMEOUT: 'soon' })).toThrow(
      new ConfigError(
        'MNSIM_RUN_TIMEOUT must be a duration from 1 s to 24 h, in seconds or with ms, s or m (got "soon")',
      ),
    );
  });

  it('the sweep runs every sixth of it, at most every 10 s, and says the timeout', () => {
    expect(staleSweepIntervalOf(60_000)).toBe(10_000);
    expect(staleSweepIntervalOf(3_600_000)).toBe(10_000);
    expect(staleSweepIntervalOf(6_000)).toBe(1_000);
    expect(staleRunReason(60_000)).toBe(
      'no sign of life for 60 s (MNSIM_RUN_TIMEOUT): its client or orchestrator is gone',
    );
    expect(staleRunReason(1_500)).toMatch(/^no sign of life for 1\.5 s /);
  });
});

describe('StaleRunSweeper', () => {
  let env: Env;
  beforeAll(async () => {
    env = await testEnv('stale');
  });
  afterAll(async () => {
    await env?.cleanup();
  });

  it('fails the runs past the timeout, one log line each, and leaves the others', async () => {
    const lines: [string, string, object | undefined][] = [];
    const log: BusLogger = (level, msg, fields) => lines.push([level, msg, fields]);
    await env.store.createRun(run('sweep-old'));
    await sleep(1_100);
    await env.store.createRun(run('sweep-new'));
    const sweeper = new StaleRunSweeper(env.store, log, { runTimeoutMs: 1_000 });
    const failed = await sweeper.sweep();
    expect(failed.map((r) => r.runId)).toEqual(['sweep-old']);
    expect(lines).toEqual([
      [
        'warn',
        'run failed: no sign of life',
        expect.objectContaining({
          runId: 'sweep-old',
          status: 'failed',
          failureReason: staleRunReason(1_000),
        }),
      ],
    ]);
    expect((await env.store.getRun('sweep-new'))!.status).toBe('running');
    // nothing left: a second sweep logs nothing
    expect(await sweeper.sweep()).toEqual([]);
    expect(lines).toHaveLength(1);
  });

  it('never throws: a store that fails is one warning per quiet period', async () => {
    const lines: string[] = [];
    const broken: Pick<Store, 'failStaleRuns'> = {
      failStaleRuns: () => Promise.reject(new Error('connection terminated')),
    };
    const sweeper = new StaleRunSweeper(
      broken,
      (level, msg, fields) => lines.push(`${level} ${msg} ${JSON.stringify(fields)}`),
      { runTimeoutMs: 1_000, intervalMs: 20 },
    );
    sweeper.start();
    await sleep(200);
    await sweeper.stop();
    expect(lines).toEqual([
      'warn stale runs not swept (retrying) {"reason":"connection terminated"}',
    ]);
  });
});

describe('the auditor', () => {
  let env: Env;
  let output = '';
  beforeAll(async () => {
    env = await testEnv('stale_auditor');
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await env?.cleanup();
  });

  it('fails a run left running by a killed client, with one JSON log line', async () => {
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      output += String(chunk);
      return true;
    });
    const config = parseClusterConfig({
      MNSIM_REDIS_URL: REDIS_URL,
      MNSIM_DATABASE_URL: DATABASE_URL,
      MNSIM_DATABASE_SCHEMA: env.schema,
      MNSIM_QUEUE_PREFIX: env.prefix,
      MNSIM_RUN_TIMEOUT: '1',
    });
    // as apps/auditor/src/main.ts starts it
    const app = await NestFactory.createApplicationContext(AuditorModule.forRoot(config), {
      logger: false,
    });
    try {
      await env.store.createRun(run('killed'));
      await env.store.createRun(run('done'));
      await env.store.finishRun('done', {
        status: 'completed',
        events: 0,
        logHash: 'h',
        violations: 0,
      });
      let status = 'running';
      for (let i = 0; i < 50 && status === 'running'; i++) {
        await sleep(100);
        status = (await env.store.getRun('killed'))!.status;
      }
      expect(await env.store.getRun('killed')).toMatchObject({
        status: 'failed',
        failureReason: staleRunReason(1_000),
      });
      expect((await env.store.getRun('done'))!.status).toBe('completed');
    } finally {
      await app.close();
    }
    const records = output
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records.filter((r) => r.message === 'run failed: no sign of life')).toEqual([
      expect.objectContaining({
        level: 'warn',
        context: 'auditor',
        runId: 'killed',
        failureReason: staleRunReason(1_000),
      }),
    ]);
  });
});
