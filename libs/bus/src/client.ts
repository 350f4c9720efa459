/**
 * Submitting a run to a running cluster and waiting for its outcome: what `mnsim run
 * --distributed` and the API use. The outcome is the auditor's (written once every event is in
 * the store); progress is the orchestrator's event cursor.
 */
import type { KernelVariant, Scenario } from '@mnsim/kernel';
import { JOB, ORCHESTRATOR_QUEUE, jobId, type StartMessage } from './messages.js';
import type { Bus } from './redis-bus.js';
import { RunStateRepository, type RunOutcome } from './run-state.js';

export const DEFAULT_CHAIN_TIMEOUT_MS = 30_000;

export interface SubmitOptions {
  kernel: KernelVariant;
  seed: number;
  /** a chain that does not complete within this ends the run failed */
  timeoutMs?: number;
}

export interface WaitOptions {
  /** events emitted so far */
  onProgress?: (events: number) => void;
  /** give up when nothing moves for this long (no orchestrator, no auditor); default 2 × chain timeout + 5 s */
  stallMs?: number;
  pollMs?: number;
}

export class RunStalledError extends Error {}

export class DistributedClient {
  private readonly runs: RunStateRepository;

  constructor(private readonly bus: Bus) {
    this.runs = new RunStateRepository(bus.redis, bus.opts.prefix);
  }

  async submit(runId: string, scenario: Scenario, opts: SubmitOptions): Promise<void> {
    const data: StartMessage = {
      runId,
      kernel: opts.kernel,
      seed: opts.seed,
      scenario: scenario as unknown as StartMessage['scenario'],
      timeoutMs: opts.timeoutMs ?? DEFAULT_CHAIN_TIMEOUT_MS,
    };
    await this.bus.send([
      { queue: ORCHESTRATOR_QUEUE, name: JOB.start, jobId: jobId(runId, 'start', 'run'), data },
    ]);
  }

  /** Resolves with the outcome; throws RunStalledError when nothing moves for `stallMs`. */
  async wait(runId: string, timeoutMs: number, opts: WaitOptions = {}): Promise<RunOutcome> {
    const stallMs = opts.stallMs ?? 2 * timeoutMs + 5_000;
    const pollMs = opts.pollMs ?? 50;
    let last = -1;
    let lastMove = Date.now();
    for (;;) {
      const outcome = await this.runs.result(runId);
      if (outcome) return outcome;
      const rec = await this.runs.orchestrator(runId);
      const seq = rec?.seq ?? 0;
      if (seq !== last) {
        last = seq;
        lastMove = Date.now();
        opts.onProgress?.(seq);
      } else if (Date.now() - lastMove > stallMs) {
        throw new RunStalledError(
          rec
            ? `run ${runId} made no progress for ${stallMs} ms (orchestrator or auditor not running?)`
            : `no orchestrator picked up run ${runId} within ${stallMs} ms: is the cluster running (npm run cluster)?`,
        );
      }
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }
}
