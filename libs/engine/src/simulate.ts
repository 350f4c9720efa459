/**
 * The embedded engine: one run of (scenario, variant, seed) in this process, on the runtime's
 * in-process driver (the orchestrator's messages handed straight to their handlers); each event
 * is encoded once, hashed into the logHash and passed on to the caller's sink (the
 * store, an exporter, or nothing).
 */
import {
  type Arch,
  type KernelVariant,
  type Scenario,
  initialStates,
  variantOf,
  type ComponentStates,
} from '@mnsim/kernel';
import {
  type Attachments,
  type EventType,
  type RunLimits,
  type Violation,
  DEFAULT_RUN_LIMITS,
  LogHasher,
  LogInterner,
  RunBudget,
  violationWithSeq,
} from '@mnsim/events';
import { type EmittedEvent, runInProcess } from '@mnsim/runtime';
import { kernelLogFromEvent, type KernelLogLine } from './kernel-log.js';

export interface SimulateOptions {
  /** overrides scenario.kernel (CLI --kernel) */
  kernel?: KernelVariant;
  /** overrides scenario.seed (CLI --seed) */
  seed?: number;
  /**
   * Called for every event in seq order, with its lines of the run's log: the definitions it is
   * the first to use, then its own line (format 2, each without "\n"). The event's payload holds
   * live objects and the array is reused: both are good for the call only.
   */
  onEvent?: (e: EmittedEvent, lines: readonly string[]) => void;
  /**
   * Called for every line of the run's log (format 2: each definition before the event that
   * first uses it, then the event's line), without "\n", in order: the lines the logHash covers.
   */
  onLine?: (line: string) => void;
  /** keep the kernel log lines (dmesg); on by default */
  keepKernelLog?: boolean;
  /**
   * Encode and hash every event (on by default). Off, the events are still emitted by the
   * transport but dropped unencoded and the result has no logHash: the model's own cost, which
   * the benchmark reports as rangesPerSecNoPersist. `onEvent` needs it on.
   */
  encode?: boolean;
  /**
   * Hash the encoded events into logHash (on by default). Verify-mode replay turns it off: it
   * compares every line with the recorded one and takes the recorded lines' hash, computed on the
   * other core, as the logHash when all of them are equal.
   */
  hashLog?: boolean;
  /**
   * What the run may produce (DEFAULT_RUN_LIMITS by default): past one, simulate throws a
   * RunLimitExceededError at the event that passed it.
   */
  limits?: Readonly<RunLimits>;
}

export interface SimulationResult {
  scenario: string;
  kernel: KernelVariant;
  arch: Arch;
  seed: number;
  events: number;
  /** null when the run was simulated with `encode: false` or `hashLog: false` */
  logHash: string | null;
  violations: Violation[];
  /** kernel_unmap_hva_range() calls made (the benchmark's "ranges") */
  ranges: number;
  kernelLog: KernelLogLine[];
  /** the components' final state, for inspection and tests */
  states: ComponentStates;
  panicked: boolean;
}

export function simulate(input: Scenario, opts: SimulateOptions = {}): SimulationResult {
  const run = simulation(input, opts);
  for (;;) {
    const next = run.next();
    if (next.done) return next.value;
  }
}

/**
 * simulate() for a caller whose sink writes asynchronously: after each stimulus's chain it asks
 * `pause` whether to wait (a store whose writes have fallen behind answers with the promise of
 * their completion), so that memory stays bounded when the database is slower than the model.
 */
export async function simulateAsync(
  input: Scenario,
  opts: SimulateOptions,
  pause: () => Promise<void> | undefined,
): Promise<SimulationResult> {
  const run = simulation(input, opts);
  for (;;) {
    const next = run.next();
    if (next.done) return next.value;
    const wait = pause();
    if (wait !== undefined) await wait;
  }
}

/** The run as a generator that yields after each stimulus's chain. */
function* simulation(
  input: Scenario,
  opts: SimulateOptions,
): Generator<void, SimulationResult, void> {
  const scenario: Scenario = {
    ...input,
    kernel: opts.kernel ?? input.kernel,
    seed: opts.seed ?? input.seed,
  };
  const variant = variantOf(scenario.kernel);
  const states = initialStates(scenario.host.arch);
  const hasher = new LogHasher();
  const violations: Violation[] = [];
  const kernelLog: KernelLogLine[] = [];
  const keepLog = opts.keepKernelLog ?? true;
  let ranges = 0;

  const encode = opts.encode ?? true;
  const hashLog = encode && (opts.hashLog ?? true);
  if (!encode && (opts.onEvent || opts.onLine)) {
    throw new Error('simulate: onEvent and onLine need encode');
  }
  // the run's log in format 2: the lines the logHash covers, the store keeps and the limits count
  const interner = new LogInterner();
  const lines: string[] = [];
  const onLine = opts.onLine;
  const onEvent = opts.onEvent;
  const budget = new RunBudget(opts.limits ?? DEFAULT_RUN_LIMITS);
  const sink = (e: EmittedEvent): void => {
    const trace = (e.payload as Attachments).trace;
    if (encode) {
      interner.pushTyped(e, lines);
      let bytes = 0;
      for (let i = 0; i < lines.length; i++) {
        bytes += hashLog ? hasher.update(lines[i]) : Buffer.byteLength(lines[i]);
        onLine?.(lines[i]);
      }
      budget.event(e.seq, bytes, trace);
    } else {
      budget.event(e.seq, 0, trace);
    }
    if (e.type === 'violation') {
      const v = (e as EmittedEvent<'violation'>).payload.violation;
      violations.push(violationWithSeq(e.seq, v));
    } else if (
      e.type === 'call' &&
      (e as EmittedEvent<'call'>).payload.fn === 'kvm_mmu_notifier_invalidate_range_start'
    ) {
      ranges++;
    }
    if (keepLog) kernelLogFromEvent(e, kernelLog);
    if (encode) {
      onEvent?.(e, lines);
      lines.length = 0;
    }
  };

  const maxEvents = (opts.limits ?? DEFAULT_RUN_LIMITS).maxEvents;
  const end = yield* runInProcess(scenario, variant, states, sink, maxEvents);

  return {
    scenario: scenario.name,
    kernel: scenario.kernel,
    arch: scenario.host.arch,
    seed: scenario.seed,
    events: end.seq,
    logHash: hashLog ? hasher.digest() : null,
    violations,
    ranges,
    kernelLog,
    states,
    panicked: end.globals.panicked,
  };
}

export type { EventType };
