/**
 * An embedded run, recorded: the engine simulates in this process and every event goes through
 * the store's batched sink into the run's log; the run row gets its outcome at the end.
 */
import { randomUUID } from 'node:crypto';
import type { KernelVariant, Scenario } from '@mnsim/kernel';
import { recordInto, simulateAsync, type SimulationResult } from '@mnsim/engine';
import type { RunLimits } from '@mnsim/events';
import { type Store, newRunOf } from '@mnsim/store';

export interface RecordedRun extends SimulationResult {
  runId: string;
  status: 'completed';
}

export async function runEmbedded(
  store: Store,
  scenario: Scenario,
  source: string | null,
  opts: { kernel?: KernelVariant; seed?: number; limits?: Readonly<RunLimits> },
): Promise<RecordedRun> {
  const run = newRunOf(randomUUID(), scenario, source, opts);
  const { runId, kernel, seed } = run;
  await store.createRun(run);
  const sink = store.createEventSink(runId, {
    scenario: scenario.name,
    kernel,
    arch: scenario.host.arch,
  });
  let result: SimulationResult;
  try {
    result = await simulateAsync(
      scenario,
      { kernel, seed, limits: opts.limits, onEvent: recordInto(sink, runId) },
      // Postgres writes in the background: past two batches in flight, wait for them
      () => (sink.backlog > 2 ? sink.drained() : undefined),
    );
    await sink.flush();
  } catch (err) {
    await sink.flush().catch(() => undefined);
    await store.finishRun(runId, {
      status: 'failed',
      events: 0,
      logHash: null,
      violations: 0,
      failureReason: err instanceof Error ? err.message : String(err),
    });
    throw err;
  }
  await store.finishRun(runId, {
    status: 'completed',
    events: result.events,
    logHash: result.logHash,
    violations: result.violations.length,
  });
  return { ...result, runId, status: 'completed' };
}
