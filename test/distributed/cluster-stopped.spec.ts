/**
 * No client waits forever: the whole cluster is stopped (SIGKILL, every process) in the middle of
 * a `mnsim fuzz --distributed` campaign. The client exits 3 within MNSIM_RUN_TIMEOUT plus a few
 * seconds, with one line that names what is missing; the runs it left behind are recorded failed
 * with that line, and once an orchestrator is back none of them is left running in Redis: each
 * fails with the line, or, if only the auditor's close was missing, closes with its embedded hash.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunStateRepository } from '@mnsim/bus';
import { simulate } from '@mnsim/engine';
import type { KernelVariant } from '@mnsim/kernel';
import { parseScenario } from '@mnsim/scenarios';
import { DATABASE_URL, type Env, REDIS_URL, testEnv } from './harness.js';
import { Worker, buildDist, clusterEnv, startCluster, stopCluster } from './processes.js';

const ROOT = join(import.meta.dirname, '../..');
const RUN_TIMEOUT_S = 8;
/** what "a few seconds" past the run timeout may take on a loaded 2-core machine */
const SLACK_MS = 7_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('the whole cluster stopped in the middle of a campaign', () => {
  let env: Env;
  let workers: Worker[] = [];
  let client: ChildProcess | null = null;
  beforeAll(async () => {
    if (!process.env.MNSIM_TEST_SKIP_BUILD) buildDist();
    env = await testEnv('stopped');
    workers = await startCluster(clusterEnv(env.prefix, env.schema), 1);
  }, 120_000);
  afterAll(async () => {
    if (client && client.exitCode === null) client.kill('SIGKILL');
    await stopCluster(workers);
    await env?.cleanup();
  });

  it('the client exits 3 within the run timeout, naming what is missing; its runs end failed with that reason', async () => {
    let stderr = '';
    client = spawn(
      process.execPath,
      [
        join(ROOT, 'dist/apps/cli/src/main.js'),
        'fuzz',
        '--runs',
        '120',
        '--seed',
        '5',
        '--distributed',
      ],
      {
        env: {
          PATH: process.env.PATH,
          MNSIM_REDIS_URL: REDIS_URL,
          MNSIM_DATABASE_URL: DATABASE_URL,
          MNSIM_DATABASE_SCHEMA: env.schema,
          MNSIM_QUEUE_PREFIX: env.prefix,
          MNSIM_RUN_TIMEOUT: String(RUN_TIMEOUT_S),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    client.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => client?.once('exit', (code) => r(code)));

    // well under way: a tenth of the campaign done, the window of runs in flight
    for (let i = 0; i < 1200 && !/fuzz 12\/120 runs/.test(stderr); i++) await sleep(50);
    expect(stderr).toMatch(
      /fuzz 12\/120 runs, \d+ failed, \d+ violations, \d+ in flight, last progress \d+ s ago/,
    );
    await Promise.all(workers.map((w) => w.kill('SIGKILL')));
    const stoppedAt = Date.now();

    const code = await Promise.race([exited, sleep(RUN_TIMEOUT_S * 1000 + 30_000).then(() => -1)]);
    const waited = Date.now() - stoppedAt;
    expect(code, stderr).toBe(3);
    expect(waited).toBeLessThan(RUN_TIMEOUT_S * 1000 + SLACK_MS);
    // the last line is the reason, on one line: the orchestrator is gone (checked first)
    const last = stderr.trimEnd().split('\n').pop() ?? '';
    expect(last).toMatch(
      new RegExp(
        `^mnsim: the cluster cannot finish \\d+ runs? in flight: no orchestrator is alive \\(the api serves it\\): nothing has served queue "orchestrator" \\(prefix ${env.prefix}\\) for \\d+\\.\\d s; start the cluster`,
      ),
    );
    const reason = last.slice('mnsim: '.length);
    console.log(`cluster stopped: the client exited ${code} after ${waited} ms: ${last}`);

    // the store says which runs were left behind: failed, with the client's reason
    const rows = (await env.store.listRuns({ limit: 1000 })).rows;
    const left = rows.filter((r) => r.status === 'failed');
    expect(left.length).toBeGreaterThan(0);
    for (const r of left) expect(r.failureReason, r.runId).toBe(reason);
    expect(rows.filter((r) => r.status === 'running')).toEqual([]);

    // an orchestrator (and the auditor) back: the runs it finds fail with the client's reason
    workers = [new Worker({ name: 'api', app: 'api' }, clusterEnv(env.prefix, env.schema))];
    workers.push(
      new Worker({ name: 'auditor', app: 'auditor' }, clusterEnv(env.prefix, env.schema)),
    );
    await Promise.all(workers.map((w) => w.start()));
    const runs = new RunStateRepository(env.bus.redis, env.prefix);
    const live = async (): Promise<string[]> =>
      (await env.bus.redis.keys(`${env.prefix}:run:*:orch`)).sort();
    for (let i = 0; i < 200 && (await live()).length > 0; i++) await sleep(100);
    expect(await live()).toEqual([]);
    let completedLate = 0;
    for (const r of left) {
      const outcome = await runs.result(r.runId);
      const row = await env.store.getRun(r.runId);
      if (outcome?.status === 'completed') {
        // all its events were out, only the auditor's close was left: it closes with the hash
        // of exactly the run's events, the embedded twin's, as the store says too
        const embedded = simulate(parseScenario(row?.source ?? '', r.runId), {
          kernel: r.kernel as KernelVariant,
          seed: r.seed,
        });
        expect(outcome.logHash, r.runId).toBe(embedded.logHash);
        expect(row, r.runId).toMatchObject({ status: 'completed', logHash: embedded.logHash });
        completedLate++;
        continue;
      }
      // the others fail with the client's reason (a run whose start was withdrawn never ran:
      // it has no outcome in Redis)
      if (outcome)
        expect(outcome, r.runId).toMatchObject({ status: 'failed', failureReason: reason });
      expect(row, r.runId).toMatchObject({ status: 'failed', failureReason: reason });
    }
    expect(completedLate).toBeLessThan(left.length);
  }, 150_000);
});
