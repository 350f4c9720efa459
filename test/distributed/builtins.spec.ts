/**
 * Invariant 1 over real BullMQ/Redis and Postgres: for every built-in scenario and every kernel
 * variant, the distributed run's logHash and violations equal the embedded simulate()'s.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KERNEL_VARIANTS } from '@mnsim/kernel';
import { simulate } from '@mnsim/engine';
import { listBuiltinScenarios, resolveScenario } from '@mnsim/scenarios';
import { runDistributedWith } from '../../apps/cli/src/run-distributed.js';
import { type Env, inProcessCluster, testEnv } from './harness.js';

describe('distributed runs equal embedded runs', () => {
  let env: Env;
  let stop: () => Promise<void>;
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
        const run = await runDistributedWith(env.store, env.bus, scenario, source, {
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
    }
  });
});
