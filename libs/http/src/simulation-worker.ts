/**
 * A simulation worker thread of the API (SimulationPool): it opens the API's store once, with a
 * connection of its own, and runs the tasks it is given on it. Its answer is the response's body,
 * or the error already classified (an error crossing threads keeps its message, not its class).
 */
import { workerData } from 'node:worker_threads';
import type { RunLimits } from '@mnsim/events';
import { type Store, type StoreOptions, openStore } from '@mnsim/store';
import { type SimulationOutcome, type SimulationTask, runTask } from './simulation-tasks.js';

export interface SimulationWorkerData {
  store: StoreOptions;
  limits: RunLimits;
}

const data = workerData as SimulationWorkerData;
let store: Promise<Store> | null = null;

/** The thread's store, opened as the thread starts, so that its first task does not wait for it. */
function openedStore(): Promise<Store> {
  store ??= openStore({ applicationName: 'mnsim-api-simulation', ...data.store });
  store.catch(() => {
    store = null; // the next task tries again, and answers with the failure meanwhile
  });
  return store;
}
void openedStore();

export default function simulate(task: SimulationTask): Promise<SimulationOutcome> {
  return runTask(openedStore(), task, data.limits);
}
