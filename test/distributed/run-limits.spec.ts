/**
 * A distributed run past its limit of events (MNSIM_MAX_RUN_EVENTS) ends failed at the end of
 * the chain that passed it, with the embedded engine's words; within it, it completes with the
 * embedded twin's logHash.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { scenarioFromData } from '@mnsim/scenarios';
import { simulate } from '@mnsim/engine';
import { TRACE_SUMMARY, encodePayload } from '@mnsim/events';
import { hostileScenario } from '../../bench/src/hostile-scenario.js';
import { runDistributedWith } from '@mnsim/bus';
import { type Env, inProcessCluster, testEnv } from './harness.js';

const MAX_EVENTS = 300;

let env: Env;
let stop: () => Promise<void>;
beforeAll(async () => {
  env = await testEnv('run-limits');
  stop = await inProcessCluster(env, undefined, [], { maxRunEvents: MAX_EVENTS });
});
afterAll(async () => {
  await stop?.();
  await env?.cleanup();
});

it('fails a run past its limit of events, naming the limit and the value reached', async () => {
  const data = hostileScenario({ vms: 1, memslots: 4, steps: 200 });
  const scenario = scenarioFromData(data, 'limits');
  const run = await runDistributedWith(env.store, env.client, scenario, JSON.stringify(data), {
    timeoutMs: 10_000,
  });
  expect(run.status).toBe('failed');
  expect(run.failureReason).toMatch(
    /^the run passed its limit of 300 events: (\d+) at seq \d+ \(MNSIM_MAX_RUN_EVENTS sets the limit\)$/,
  );
  const reached = Number(/: (\d+) at/.exec(run.failureReason ?? '')?.[1]);
  expect(reached).toBeGreaterThan(MAX_EVENTS);
  const row = await env.store.getRun(run.runId);
  expect(row).toMatchObject({ status: 'failed', logHash: null, failureReason: run.failureReason });
});

it('completes a run within it, with the embedded hash', async () => {
  const data = hostileScenario({ vms: 1, memslots: 2, steps: 1 });
  const scenario = scenarioFromData(data, 'small');
  const embedded = simulate(scenario, { keepKernelLog: false });
  expect(embedded.events).toBeLessThanOrEqual(MAX_EVENTS);
  const run = await runDistributedWith(env.store, env.client, scenario, JSON.stringify(data), {
    timeoutMs: 10_000,
  });
  expect(run).toMatchObject({ status: 'completed', logHash: embedded.logHash });
});

it('summarises a trace past its kept entries as the embedded engine does: the same bytes', async () => {
  // one VM of 100 memslots: every walk over them traces more entries than an event keeps
  const data = hostileScenario({ vms: 1, memslots: 100, steps: 1 });
  const scenario = scenarioFromData(data, 'summarised');
  let summarised = 0;
  const embedded = simulate(scenario, {
    keepKernelLog: false,
    onEvent: (e) => {
      if (encodePayload(e.type, e.payload).includes(`"what":"${TRACE_SUMMARY}"`)) summarised++;
    },
  });
  expect(summarised).toBeGreaterThan(0);
  expect(embedded.events).toBeLessThanOrEqual(MAX_EVENTS);
  const run = await runDistributedWith(env.store, env.client, scenario, JSON.stringify(data), {
    timeoutMs: 10_000,
  });
  expect(run).toMatchObject({ status: 'completed', logHash: embedded.logHash });
});
