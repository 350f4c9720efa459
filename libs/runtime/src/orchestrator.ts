/**
 * The orchestration of a run, as one pure function: (state, message) → (state, events, message
 * out). The embedded engine (in-process.ts) and the cluster's orchestrator (@mnsim/bus) both drive
 * it; they differ only in how the message out reaches its handler and where the state is kept.
 *
 * The kernel's RunScheduler decides what runs next; one chain is in flight at a time. `start`
 * emits run.start and sends the first stimulus; each stimulus is emitted here (its step or timer
 * event) and goes out as an `invoke` of its target component; the chain's `done` brings back its
 * return value, the context's globals and its cursor, and the next stimulus goes out. After the
 * last one, run.end and the run's `end`. A `fail` (a chain that timed out, a handler that threw, a
 * client that gave up) ends the run failed; a run past its limit of events fails at the end of
 * the chain that passed it.
 *
 * Pure: no I/O, no clock, nothing but its arguments. The state is a plain JSON object that a
 * driver may keep anywhere (the cluster keeps it in Redis between messages). To stay fast
 * in-process, `step` takes the state over: the state it returns may share and change the objects
 * of the one it was given, so a driver keeps only the state returned.
 */
import {
  type ExecContext,
  type KernelGlobals,
  type Scenario,
  type SchedulerState,
  type Stimulus,
  RunScheduler,
  makeContext,
  newGlobals,
} from '@mnsim/kernel';
import { RUN_END_ID, RUN_START_ID, RunLimitExceededError, bootId, stepId } from '@mnsim/events';
import { type EmittedEvent, EventBuilder } from './event-builder.js';
import type { Cursor } from './messages.js';

export interface OrchestratorState {
  status: 'running' | 'completed' | 'failed';
  scheduler: SchedulerState;
  globals: KernelGlobals;
  /** seq of the run's next event */
  seq: number;
  /** the run's violations so far */
  violations: number;
  /** boot stimuli sent so far (the next one's id is bootId(boot)) */
  boot: number;
  /** the stimulus whose chain is in flight */
  current: { id: string; stimulus: Stimulus } | null;
  failureReason: string | null;
}

/** A chain's outcome, as its target component hands it back. */
export interface ChainDone {
  kind: 'done';
  stimulusId: string;
  ret: unknown;
  globals: KernelGlobals;
  cursor: Cursor;
}

/** What the orchestrator is told. */
export type OrchestratorMessage =
  | { kind: 'start' }
  | ChainDone
  /** the run fails: `stimulusId` when only that chain's failure counts (a timeout) */
  | { kind: 'fail'; reason: string; stimulusId?: string };

/** A stimulus for its target component: the chain's first handler. */
export interface ChainInvoke {
  /** the stimulus's event id: the handler's frame */
  id: string;
  to: Stimulus['to'];
  fn: Stimulus['fn'];
  args: unknown;
  ctx: ExecContext;
  cursor: Cursor;
}

/** What the orchestrator sends: the next chain, or the run's end. */
export type OrchestratorOut =
  | { kind: 'invoke'; invoke: ChainInvoke }
  | {
      kind: 'end';
      status: 'completed' | 'failed';
      events: number;
      violations: number;
      failureReason: string | null;
    };

export interface OrchestratorStep {
  state: OrchestratorState;
  /**
   * The events emitted, in seq order. A stimulus event refers to its invoke's context, which the
   * chain then changes: encode the events before the chain runs.
   */
  events: EmittedEvent[];
  /** null: the message changed nothing (a late duplicate, a chain no longer in flight) */
  out: OrchestratorOut | null;
}

export class Orchestrator {
  /** the scheduler over the last state seen: the in-process driver hands the same one back */
  private scheduler: RunScheduler | null = null;
  /** the events of the current step; a new array each step, built by the one builder */
  private events: EmittedEvent[] = [];
  private readonly builder = new EventBuilder((e) => this.events.push(e));

  /**
   * @param scenario the scenario with its kernel and seed settled
   * @param maxEvents the run's limit of events (RunLimits.maxEvents)
   */
  constructor(
    readonly scenario: Scenario,
    private readonly maxEvents: number,
  ) {}

  step(state: OrchestratorState | null, msg: OrchestratorMessage): OrchestratorStep {
    if (msg.kind === 'start') {
      if (state !== null) return { state, events: [], out: null };
      return this.start();
    }
    if (state === null || state.status !== 'running' || state.current === null) {
      return { state: state as OrchestratorState, events: [], out: null };
    }
    if (msg.kind === 'fail') {
      if (msg.stimulusId !== undefined && msg.stimulusId !== state.current.id) {
        return { state, events: [], out: null };
      }
      return this.fail(state, msg.reason);
    }
    if (msg.stimulusId !== state.current.id) return { state, events: [], out: null };
    state.globals = msg.globals;
    state.seq = msg.cursor.seq;
    state.violations = msg.cursor.violations;
    if (state.seq > this.maxEvents) {
      // as the embedded engine's RunBudget words it, at the end of the chain that passed it
      const passed = new RunLimitExceededError(
        'maxEvents',
        this.maxEvents,
        state.seq,
        state.seq - 1,
      );
      return this.fail(state, passed.message);
    }
    const scheduler = this.schedulerOf(state);
    scheduler.done(
      state.current.stimulus,
      msg.ret,
      msg.cursor.armed as never,
      state.globals.panicked,
    );
    return this.advance(state, scheduler, this.eventsFrom(state.seq));
  }

  private start(): OrchestratorStep {
    const scenario = this.scenario;
    const scheduler = new RunScheduler(scenario);
    this.scheduler = scheduler;
    const events = this.eventsFrom(0);
    this.builder.emit('run.start', RUN_START_ID, null, 0, {
      arch: scenario.host.arch,
      kernel: scenario.kernel,
      scenario,
      seed: scenario.seed,
    });
    const state: OrchestratorState = {
      status: 'running',
      scheduler: scheduler.state,
      globals: newGlobals(),
      seq: events.length,
      violations: 0,
      boot: 0,
      current: null,
      failureReason: null,
    };
    return this.advance(state, scheduler, events);
  }

  /** A new step's events: emitted by the builder from `seq` on. */
  private eventsFrom(seq: number): EmittedEvent[] {
    this.events = [];
    this.builder.seq = seq;
    return this.events;
  }

  /** Sends the next stimulus, or ends the run completed. */
  private advance(
    state: OrchestratorState,
    scheduler: RunScheduler,
    events: EmittedEvent[],
  ): OrchestratorStep {
    const builder = this.builder;
    builder.seq = state.seq;
    const stim = scheduler.next();
    let out: OrchestratorOut | null = null;
    if (stim) {
      const id = stim.timerId ?? (stim.step === null ? bootId(state.boot++) : stepId(stim.step));
      const ctx = makeContext(stim.task, stim.stack, stim.jiffies, stim.cpu, state.globals);
      builder.emit(
        stim.kind,
        id,
        stim.armedBy,
        stim.jiffies,
        builder.stimulusPayload(stim.args, ctx, stim.fn, stim.step, stim.to),
      );
      state.current = { id, stimulus: stim };
      const cursor = { seq: builder.seq, violations: state.violations, armed: [] };
      out = {
        kind: 'invoke',
        invoke: { id, to: stim.to, fn: stim.fn, args: stim.args, ctx, cursor },
      };
    } else {
      builder.emit('run.end', RUN_END_ID, null, scheduler.state.now, {
        events: builder.seq + 1,
        status: 'completed',
        violations: state.violations,
      });
      state.current = null;
      state.status = 'completed';
    }
    state.seq = builder.seq;
    state.scheduler = scheduler.state;
    return { state, events, out: out ?? this.end(state) };
  }

  private fail(state: OrchestratorState, reason: string): OrchestratorStep {
    state.status = 'failed';
    state.failureReason = reason;
    return { state, events: [], out: this.end(state) };
  }

  private end(state: OrchestratorState): OrchestratorOut {
    return {
      kind: 'end',
      status: state.status === 'completed' ? 'completed' : 'failed',
      events: state.seq,
      violations: state.violations,
      failureReason: state.failureReason,
    };
  }

  /** The scheduler over `state`: the one kept when the driver handed that state back. */
  private schedulerOf(state: OrchestratorState): RunScheduler {
    if (this.scheduler?.state !== state.scheduler) {
      this.scheduler = new RunScheduler(this.scenario, state.scheduler);
    }
    return this.scheduler;
  }
}
