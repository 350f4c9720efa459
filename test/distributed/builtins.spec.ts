/**
 * Invariant 1 over real BullMQ/Redis and Postgres: for every built-in scenario and every kernel
 * variant, the distributed run's logHash and violations equal the embedded simulate()'s; and a
 * distributed run's log, exported from Postgres and imported into a fresh store, replays.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { KERNEL_VARIANTS } from '@mnsim/kernel';
import { RecordedRun, importLogFile, replayLog, simulate } from '@mnsim/engine';
import { generateScenario, listBuiltinScenarios, resolveScenario } from '@mnsim/scenarios';
import { openStore } from '@mnsim/store';
import { FLUSH_EVENTS } from '@mnsim/bus';
import { AUDITOR_QUEUE, ORCHESTRATOR_QUEUE } from '@mnsim/runtime';
import { runDistributedWith, type DistributedRun } from '@mnsim/bus';
import { exportCommand } from '../../apps/cli/src/commands/export.js';
import { DATABASE_URL, type Env, inProcessCluster, testEnv } from './harness.js';

describe('distributed runs equal embedded runs', () => {
  let env: Env;
  let stop: () => Promise<void>;
  const recorded: DistributedRun[] = [];
  beforeAll(async () => {
    env = await testEnv('builtins');
    stop = await inProcessCluster(env);
  });
  afterAll(async () => {
    await stop?.();
    await env?.cleanup();
  });

  it('every built-in scenario × every variant: same logHash, same violations', async () => {
    const cases = listBuiltinScenarios().flatMap(({ name }) =>
      KERNEL_VARIANTS.map((kernel) => ({ name, kernel })),
    );
    const results = await Promise.all(
      cases.map(async ({ name, kernel }) => {
        const { scenario, source } = resolveScenario(name);
        const embedded = simulate(scenario, { kernel });
        const run = await runDistributedWith(env.store, env.client, scenario, source, {
          kernel,
          timeoutMs: 20_000,
        });
        return { name, kernel, embedded, run };
      }),
    );
    for (const { name, kernel, embedded, run } of results) {
      const label = `${name} on ${kernel}`;
      expect(run.status, label).toBe('completed');
      expect(run.logHash, label).toBe(embedded.logHash);
      expect(run.events, label).toBe(embedded.events);
      expect(run.violations, label).toEqual(embedded.violations);
      const row = await env.store.getRun(run.runId);
      expect(row?.status, label).toBe('completed');
      expect(row?.logHash, label).toBe(embedded.logHash);
      expect(row?.violations, label).toBe(embedded.violations.length);
      recorded.push(run);
    }
  });

  it('flushes a long run to the store while it runs, FLUSH_EVENTS events at a time', async () => {
    const { scenario } = generateScenario(7, 0, { mix: 'invalidations', steps: 200 });
    const embedded = simulate(scenario);
    expect(embedded.events).toBeGreaterThan(3 * FLUSH_EVENTS);
    const auditor = env.bus.queue(AUDITOR_QUEUE);
    const jobsBefore = (await auditor.getMetrics('completed', 0, 0)).meta.count;
    const run = await runDistributedWith(env.store, env.client, scenario, null, {
      timeoutMs: 20_000,
    });
    expect(run.status).toBe('completed');
    expect(run.logHash).toBe(embedded.logHash);
    // the flushes (at least one per FLUSH_EVENTS events but the last) and the finish
    const jobs = (await auditor.getMetrics('completed', 0, 0)).meta.count - jobsBefore;
    expect(jobs).toBeGreaterThanOrEqual(Math.floor(embedded.events / FLUSH_EVENTS));
    recorded.push(run);
  });

  it('leaves no run state, chain deadline or timeout job behind once its runs are done', async () => {
    expect(recorded.length).toBeGreaterThan(0);
    // staged events included: every run:<id>:… key goes with its run
    const [, runKeys] = await env.bus.redis.scan('0', 'MATCH', `${env.prefix}:run:*`, 'COUNT', 1e5);
    expect(runKeys).toEqual([]);
    expect(await env.bus.redis.zcard(`${env.prefix}:chain-deadlines`)).toBe(0);
    expect(await env.bus.redis.hlen(`${env.prefix}:chain-stimulus`)).toBe(0);
    const counts = await env.bus.queue(ORCHESTRATOR_QUEUE).getJobCounts('delayed', 'wait');
    expect(counts).toEqual({ delayed: 0, wait: 0 });
  });

  it('export from Postgres → import into a fresh store → replay matches, for every distributed run', async () => {
    expect(recorded.length).toBeGreaterThanOrEqual(60);
    const dir = mkdtempSync(join(tmpdir(), 'mnsim-dist-export-'));
    const fresh = await openStore({ sqlitePath: join(dir, 'fresh.sqlite') });
    const quiet = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      for (const run of recorded) {
        const file = join(dir, `${run.runId}.jsonl`);
        const config = { store: { url: DATABASE_URL, schema: env.schema }, redisUrl: null };
        expect(await exportCommand(run.runId, { output: file }, config)).toBe(0);
        const imported = await importLogFile(fresh, file);
        expect(imported).toMatchObject({ runId: run.runId, logHash: run.logHash, imported: true });
        // replayed from the store it was imported into (import checked the file against its
        // logHash; replaying a file is test/replay's)
        const { report } = await replayLog(await RecordedRun.open(fresh, run.runId));
        expect(report.matches, `${run.runId} from the store`).toBe(true);
        expect(report.logHash).toBe(run.logHash);
        expect(report.violations).toEqual(run.violations);
      }
    } finally {
      quiet.mockRestore();
      await fresh.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
