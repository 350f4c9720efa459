/**
 * The in-process driver of the runtime: the embedded engine. The orchestrator's invoke goes
 * straight to its handler, and a kernel call to another component is a direct function call on
 * the same stack (the chain's one Sys, chain.ts, answering calls by running the callee here).
 * Every message is still emitted as an event of the run's log, in the order the distributed
 * workers would exchange them; the sink encodes each event at once, so the shared context object
 * needs no copy. The cluster's driver is @mnsim/bus: the same orchestrator, the same Sys, with
 * each message sent as a job.
 */
import type { ComponentStates, Scenario, Variant } from '@mnsim/kernel';
import { EventBuilder, type EventSink } from './event-builder.js';
import { ChainSys } from './chain.js';
import {
  type ChainDone,
  type ChainInvoke,
  Orchestrator,
  type OrchestratorState,
} from './orchestrator.js';

export type { EmittedEvent, EventSink } from './event-builder.js';

/** Runs chains here, on the components' states, emitting every event to the sink. */
export class InProcessDriver {
  private readonly sys: ChainSys;

  constructor(
    scenario: Scenario,
    variant: Variant,
    private readonly states: ComponentStates,
    sink: EventSink,
  ) {
    this.sys = new ChainSys(
      scenario,
      variant,
      new EventBuilder(sink),
      (sys, ctx, id, from, to, fn, args) => sys.runHandler(states, id, to, fn, args, ctx, from),
    );
  }

  /** The invoke's whole chain: its handler, every call on the way, and its return. */
  runChain(invoke: ChainInvoke): ChainDone {
    const sys = this.sys;
    sys.resume(invoke.cursor);
    const ret = sys.runHandler(
      this.states,
      invoke.id,
      invoke.to,
      invoke.fn,
      invoke.args as never,
      invoke.ctx,
      'orchestrator',
    );
    return {
      kind: 'done',
      stimulusId: invoke.id,
      ret,
      globals: invoke.ctx.globals,
      cursor: sys.cursor(),
    };
  }
}

/**
 * A whole run in this process: the orchestrator's messages handed straight to their handlers.
 * A generator that yields after each chain, so that its caller may wait for a slow sink; it
 * returns the orchestrator's final state. A kernel that throws (a limit passed in the sink, a
 * model error) ends it with that exception.
 */
export function* runInProcess(
  scenario: Scenario,
  variant: Variant,
  states: ComponentStates,
  sink: EventSink,
  maxEvents: number,
): Generator<void, OrchestratorState, void> {
  const orchestrator = new Orchestrator(scenario, maxEvents);
  const driver = new InProcessDriver(scenario, variant, states, sink);
  let step = orchestrator.step(null, { kind: 'start' });
  for (;;) {
    for (const e of step.events) sink(e);
    if (step.out === null || step.out.kind === 'end') return step.state;
    step = orchestrator.step(step.state, driver.runChain(step.out.invoke));
    yield;
  }
}
