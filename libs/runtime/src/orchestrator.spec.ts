/**
 * The orchestrator as the pure function both drivers step: (state, message) → (state, events,
 * message out). The chains are run in-process (InProcessDriver); what is checked is the
 * orchestrator's own part: the events it emits, what it sends, and that a state kept as JSON
 * between messages (as the cluster keeps it in Redis) steps exactly as one kept in memory.
 */
import { describe, expect, it } from 'vitest';
import { type Scenario, initialStates, variantOf } from '@mnsim/kernel';
import { RUN_END_ID, RUN_START_ID, bootId } from '@mnsim/events';
import { resolveScenario } from '@mnsim/scenarios';
import { toWireEvent } from './event-builder.js';
import { InProcessDriver } from './in-process.js';
import type { WireEvent } from './messages.js';
import {
  type ChainDone,
  Orchestrator,
  type OrchestratorOut,
  type OrchestratorState,
  type OrchestratorStep,
} from './orchestrator.js';

const wire = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

function scenario(name: string): Scenario {
  return { ...resolveScenario(name).scenario, kernel: '5.8' };
}

interface Driven {
  /** every event, the orchestrator's and the chains', encoded, in emission order */
  events: WireEvent[];
  /** every message the orchestrator sent, through JSON */
  outs: OrchestratorOut[];
  final: OrchestratorState;
}

/** A whole run, the state kept as it is, or through JSON between steps (`asJson`). */
function drive(s: Scenario, asJson: boolean, maxEvents = Infinity): Driven {
  const events: WireEvent[] = [];
  const driver = new InProcessDriver(s, variantOf(s.kernel), initialStates(s.host.arch), (e) =>
    events.push(toWireEvent(e)),
  );
  const orchestrator = new Orchestrator(s, maxEvents);
  const outs: OrchestratorOut[] = [];
  let step = orchestrator.step(null, { kind: 'start' });
  for (;;) {
    events.push(...step.events.map(toWireEvent));
    if (step.out === null) throw new Error('a run stalled: no message out');
    outs.push(wire(step.out));
    if (step.out.kind === 'end') return { events, outs, final: step.state };
    let done: ChainDone = driver.runChain(step.out.invoke);
    let state = step.state;
    if (asJson) [state, done] = [wire(state), wire(done)];
    step = orchestrator.step(state, done);
  }
}

/** The orchestrator stepped up to its first invoke. */
function started(): { orchestrator: Orchestrator; step: OrchestratorStep } {
  const orchestrator = new Orchestrator(scenario('oom-reap-arm64'), Infinity);
  return { orchestrator, step: orchestrator.step(null, { kind: 'start' }) };
}

describe('Orchestrator', () => {
  it('starts a run: run.start, the first stimulus event, and its invoke on the cursor after them', () => {
    const { step } = started();
    expect(step.events.map((e) => [e.type, e.id, e.seq])).toEqual([
      ['run.start', RUN_START_ID, 0],
      ['step', bootId(0), 1],
    ]);
    expect(step.out).toMatchObject({
      kind: 'invoke',
      invoke: {
        id: bootId(0),
        to: 'mm',
        fn: 'mm_boot',
        cursor: { seq: 2, violations: 0, armed: [] },
      },
    });
    expect(step.state).toMatchObject({ status: 'running', seq: 2, boot: 1 });
    expect(step.state.current?.id).toBe(bootId(0));
  });

  it('ends a run with run.end (its own count in it) and an end carrying the totals', () => {
    const { events, outs, final } = drive(scenario('oom-reap-arm64'), false);
    const last = events[events.length - 1];
    expect(last.type).toBe('run.end');
    expect(last.id).toBe(RUN_END_ID);
    expect(JSON.parse(last.payload)).toMatchObject({ events: events.length, status: 'completed' });
    const violations = events.filter((e) => e.type === 'violation').length;
    expect(violations).toBeGreaterThan(0);
    expect(outs[outs.length - 1]).toEqual({
      kind: 'end',
      status: 'completed',
      events: events.length,
      violations,
      failureReason: null,
    });
    expect(final).toMatchObject({ status: 'completed', current: null, seq: events.length });
    // seqs are the emission order, whoever emitted them
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i));
  });

  it.each(['oom-reap-arm64', 'userptr-eagain-arm64', 'victim-exits-arm64', 'oom-reap-x86'])(
    '%s: a state kept as JSON between messages steps exactly as one kept in memory',
    (name) => {
      const inMemory = drive(scenario(name), false);
      const asJson = drive(scenario(name), true);
      expect(asJson.events).toEqual(inMemory.events);
      expect(asJson.outs).toEqual(inMemory.outs);
    },
  );

  it('changes nothing for a done of a chain not in flight, a second start, or a timeout of another chain', () => {
    const { orchestrator, step } = started();
    const before = wire(step.state);
    const stale: ChainDone = {
      kind: 'done',
      stimulusId: 'step-7',
      ret: 0,
      globals: step.state.globals,
      cursor: { seq: 99, violations: 3, armed: [] },
    };
    for (const msg of [
      stale,
      { kind: 'start' as const },
      { kind: 'fail' as const, reason: 'timed out', stimulusId: 'step-7' },
    ]) {
      const next = orchestrator.step(step.state, msg);
      expect(next.out).toBeNull();
      expect(next.events).toEqual([]);
      expect(wire(next.state)).toEqual(before);
    }
  });

  it('fails the run on a fail, once: after it, nothing', () => {
    const { orchestrator, step } = started();
    const failed = orchestrator.step(step.state, { kind: 'fail', reason: 'the client gave up' });
    expect(failed.out).toEqual({
      kind: 'end',
      status: 'failed',
      events: 2,
      violations: 0,
      failureReason: 'the client gave up',
    });
    expect(failed.events).toEqual([]);
    expect(failed.state).toMatchObject({ status: 'failed', failureReason: 'the client gave up' });
    expect(orchestrator.step(failed.state, { kind: 'fail', reason: 'again' }).out).toBeNull();
  });

  it('fails a run past its limit of events at the end of the chain that passed it', () => {
    const all = drive(scenario('oom-reap-arm64'), false);
    const limit = 20;
    const cut = drive(scenario('oom-reap-arm64'), false, limit);
    const end = cut.outs[cut.outs.length - 1];
    expect(end).toMatchObject({ kind: 'end', status: 'failed' });
    if (end.kind !== 'end') throw new Error('unreachable');
    // the chain that crossed 20 events ran whole; nothing after it
    expect(end.events).toBeGreaterThan(limit);
    expect(cut.events).toEqual(all.events.slice(0, end.events));
    expect(end.failureReason).toBe(
      `the run passed its limit of 20 events: ${end.events} at seq ${end.events - 1} (MNSIM_MAX_RUN_EVENTS sets the limit)`,
    );
  });
});
