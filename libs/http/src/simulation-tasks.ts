/**
 * The API's two pieces of heavy work, POST /runs and POST /runs/:id/replay, as plain functions of
 * a store: the simulation workers run them off the request thread (simulation-worker.ts), and
 * their answers are the bodies the API sends.
 */
import { RecordedRun, type RunStart, replayLog, scenarioOnArch, simulate } from '@mnsim/engine';
import { type CanonicalEvent, LogExpander, type RunLimits } from '@mnsim/events';
import type { Arch, KernelVariant } from '@mnsim/kernel';
import type { Store } from '@mnsim/store';
import { runJson, violationJson } from '@mnsim/runs';
import { runEmbedded } from '@mnsim/runs';
import { errorStatus } from './error-status.js';
import type { CreateRunBody, ReplayBody } from './requests.js';
import { resolveRunScenario } from './scenario-source.js';

export type SimulationTask =
  { kind: 'run'; body: CreateRunBody } | { kind: 'replay'; id: string; body: ReplayBody };

/**
 * Runs the scenario embedded and records it like `mnsim run`; the answer is `mnsim run --json`'s
 * object. A run that fails (a limit passed) is recorded failed with its reason, and throws.
 */
export async function createRun(
  store: Store,
  body: CreateRunBody,
  limits: Readonly<RunLimits>,
): Promise<object> {
  const { scenario, source } = resolveRunScenario(body);
  const run = await runEmbedded(store, scenario, source, {
    kernel: body.kernel,
    seed: body.seed,
    limits,
  });
  return runJson(run);
}

/** `mnsim replay <runId> [--kernel V] [--arch A] --json`. */
export async function replayRun(
  store: Store,
  idOrPrefix: string,
  body: ReplayBody,
  limits: Readonly<RunLimits>,
): Promise<object> {
  const run = await RecordedRun.open(store, idOrPrefix);
  const { report } = await replayLog(run, body?.kernel, body?.arch, { limits });
  return {
    ...report,
    violations: report.violations.map(violationJson),
    violationsDiff: {
      added: report.violationsDiff.added.map(violationJson),
      removed: report.violationsDiff.removed.map(violationJson),
    },
    ...(body?.events ? replayedEvents(run.start, body.kernel, body.arch, limits) : {}),
  };
}

/** How many of a re-executed run's events a replay answers with `events: true`. */
export const MAX_REPLAY_EVENTS = 20_000;

/**
 * The events of the re-execution a replay compared, for the dashboard to draw beside the recorded
 * run: the same scenario, seed, variant and arch simulated once more (deterministic, so the same
 * log), its lines expanded as the store expands a recorded run's. The replay's report does not
 * keep them: its comparison streams the log. Past MAX_REPLAY_EVENTS the rest are dropped.
 */
function replayedEvents(
  start: RunStart,
  kernel: KernelVariant | undefined,
  arch: Arch | undefined,
  limits: Readonly<RunLimits>,
): { events: CanonicalEvent[]; eventsTruncated: boolean } {
  const onArch = arch ?? start.arch;
  const scenario = onArch === start.arch ? start.scenario : scenarioOnArch(start, onArch);
  const expander = new LogExpander({ verify: false });
  const events: CanonicalEvent[] = [];
  let eventsTruncated = false;
  simulate(scenario, {
    kernel: kernel ?? start.kernel,
    seed: start.seed,
    limits,
    keepKernelLog: false,
    onLine: (line) => {
      if (eventsTruncated) return;
      const e = expander.line(line);
      if (e === null) return;
      if (events.length < MAX_REPLAY_EVENTS) events.push(e);
      else eventsTruncated = true;
    },
  });
  return { events, eventsTruncated };
}

/** A task's answer: the response's body, or its error already classified. */
export type SimulationOutcome =
  | { ok: true; body: object }
  | { ok: false; status: number; message: string; detail: string | null };

/**
 * Runs the task; never throws. An error becomes its HTTP status and message here, where its class
 * is still known (an error crossing threads keeps its message only); `detail` is the stack of a
 * failure of the service, for the log.
 */
export async function runTask(
  store: Store | Promise<Store>,
  task: SimulationTask,
  limits: Readonly<RunLimits>,
): Promise<SimulationOutcome> {
  try {
    const s = await store;
    const body =
      task.kind === 'run'
        ? await createRun(s, task.body, limits)
        : await replayRun(s, task.id, task.body, limits);
    return { ok: true, body };
  } catch (err) {
    const { status, message, internal } = errorStatus(err);
    const detail = internal && err instanceof Error ? (err.stack ?? err.message) : null;
    return { ok: false, status, message, detail };
  }
}
