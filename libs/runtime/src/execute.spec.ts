/**
 * execute(): a handler re-run from its recorded replies, as the distributed workers run it.
 *
 * The oracle is the in-process driver (InProcessDriver.runChain), which runs the same kernel
 * handlers on one stack. A small driver below plays the workers and the orchestrator in
 * memory, with every message through JSON as on the wire: it invokes the stimulus's handler,
 * follows each call it suspends at, and feeds each return back as a reply. For every stimulus of
 * a run the events the re-executions emit fresh, concatenated, must be the in-process events
 * byte for byte (encodePayload), with the same ids and seqs.
 */
import { describe, expect, it } from 'vitest';
import {
  type ArmedTimer,
  type ComponentStates,
  type ExecContext,
  type KernelGlobals,
  type KernelVariant,
  type Scenario,
  type Stimulus,
  componentOf,
  initialStates,
  makeContext,
  newGlobals,
  variantOf,
} from '@mnsim/kernel';
import { resolveScenario } from '@mnsim/scenarios';
import { EventBuilder, toWireEvent } from './event-builder.js';
import {
  type Execution,
  type ExecuteInput,
  type HandlerInvoke,
  type RecordedReply,
  execute,
} from './execute.js';
import { InProcessDriver } from './in-process.js';
import { Orchestrator } from './orchestrator.js';
import type { Cursor, WireEvent } from './messages.js';

const RUN_ID = 'execute-spec';

/** Through JSON, as every message travels between the workers. */
const wire = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

const wireEvent = toWireEvent;

/** One execute() call of the driver: what it was given and what it gave back. */
interface Step {
  input: ExecuteInput;
  out: Execution;
  /** how many handlers were suspended below this one */
  depth: number;
}

interface Chain {
  events: WireEvent[];
  steps: Step[];
  ret: unknown;
  ctx: ExecContext;
  cursor: Cursor;
}

/** A handler in flight: its invoke, the state it started from, the replies it has had. */
interface Handler {
  invoke: HandlerInvoke;
  snapshot: unknown;
  replies: RecordedReply[];
  emitted: number;
}

/**
 * One stimulus's chain, distributed: the orchestrator's stimulus event, then the handlers
 * re-executed message by message. `states` is what the components hold; it is updated.
 */
function distributedChain(
  scenario: Scenario,
  states: ComponentStates,
  stim: Stimulus,
  id: string,
  globals: KernelGlobals,
  seq: number,
  violations: number,
): Chain {
  const variant = variantOf(scenario.kernel);
  const events: WireEvent[] = [];
  const steps: Step[] = [];
  // the orchestrator emits the stimulus and invokes its component (orchestrator-processor.ts)
  const builder = new EventBuilder((e) => events.push(wireEvent(e)), seq);
  const ctx = makeContext(stim.task, stim.stack, stim.jiffies, stim.cpu, globals);
  builder.emit(
    stim.kind,
    id,
    stim.armedBy,
    stim.jiffies,
    builder.stimulusPayload(stim.args, ctx, stim.fn, stim.step, stim.to),
  );
  const handlerFor = (invoke: HandlerInvoke): Handler => {
    const c = componentOf(invoke.to);
    return { invoke, snapshot: c === 'task' ? null : wire(states[c]), replies: [], emitted: 0 };
  };
  const stack = [
    handlerFor(
      wire({
        runId: RUN_ID,
        id,
        to: stim.to,
        fn: stim.fn,
        args: stim.args,
        ctx,
        cursor: { seq: builder.seq, violations, armed: [] },
        replyTo: { kind: 'orchestrator' as const },
      }),
    ),
  ];
  for (;;) {
    const h = stack[stack.length - 1];
    const input: ExecuteInput = {
      scenario,
      variant,
      invoke: h.invoke,
      snapshot: h.snapshot,
      replies: [...h.replies],
      emitted: h.emitted,
    };
    const out = execute(input);
    steps.push({ input, out, depth: stack.length - 1 });
    events.push(...out.events);
    if (out.kind === 'suspended') {
      h.emitted = out.emitted;
      const c = out.call;
      stack.push(
        handlerFor(
          wire({
            runId: RUN_ID,
            id: c.id,
            to: c.to,
            fn: c.fn,
            args: c.args,
            ctx: c.ctx,
            cursor: out.cursor,
            replyTo: {
              kind: 'component' as const,
              address: h.invoke.to,
              handlerId: h.invoke.id,
              index: c.index,
            },
          }),
        ),
      );
      continue;
    }
    const c = componentOf(h.invoke.to);
    if (c !== 'task') (states as unknown as Record<string, unknown>)[c] = wire(out.state);
    stack.pop();
    const reply = wire({ ret: out.ret, ctx: out.ctx, cursor: out.cursor });
    if (stack.length === 0) return { events, steps, ...reply };
    stack[stack.length - 1].replies.push(reply);
  }
}

interface ChainPair {
  id: string;
  stim: Stimulus;
  inProcess: WireEvent[];
  distributed: Chain;
  inProcessArmed: ArmedTimer[];
  inProcessRet: unknown;
  inProcessGlobals: KernelGlobals;
}

interface Lockstep {
  chains: ChainPair[];
  inProcessStates: ComponentStates;
  distributedStates: ComponentStates;
}

/**
 * The run both ways, chain by chain: the runtime's orchestrator, fed by the in-process outcome,
 * sends each stimulus; the in-process driver runs its chain, and the distributed chain runs from
 * the distributed side's own globals, seq and violations.
 */
function lockstep(scenario: Scenario): Lockstep {
  const variant = variantOf(scenario.kernel);
  const ipStates = initialStates(scenario.host.arch);
  const dStates = initialStates(scenario.host.arch);
  let chunk: WireEvent[] = [];
  const driver = new InProcessDriver(scenario, variant, ipStates, (e) => chunk.push(wireEvent(e)));
  const orchestrator = new Orchestrator(scenario, Infinity);
  let dGlobals = newGlobals();
  let seq = 0;
  let violations = 0;
  const chains: ChainPair[] = [];
  let step = orchestrator.step(null, { kind: 'start' });
  for (; step.out?.kind === 'invoke';) {
    const current = step.state.current;
    if (current === null) throw new Error('an invoke with no chain in flight');
    const { id, stimulus: stim } = current;
    seq += step.events.filter((e) => e.type === 'run.start').length;
    // the stimulus's event, encoded before its chain changes the context it refers to
    chunk = step.events.filter((e) => e.type !== 'run.start').map(wireEvent);
    const d = distributedChain(scenario, dStates, stim, id, dGlobals, seq, violations);
    const ip = driver.runChain(step.out.invoke);
    chains.push({
      id,
      stim,
      inProcess: chunk,
      distributed: d,
      inProcessArmed: wire(ip.cursor.armed) as ArmedTimer[],
      inProcessRet: wire(ip.ret ?? null),
      inProcessGlobals: wire(ip.globals),
    });
    dGlobals = d.ctx.globals;
    seq = d.cursor.seq;
    violations = d.cursor.violations;
    step = orchestrator.step(step.state, ip);
  }
  return { chains, inProcessStates: ipStates, distributedStates: dStates };
}

function scenarioOf(name: string, kernel: KernelVariant): Scenario {
  return { ...resolveScenario(name).scenario, kernel };
}

/** The handler steps of one chain, grouped by handler (invoke id), in execution order. */
function byHandler(chain: Chain): Map<string, Step[]> {
  const m = new Map<string, Step[]>();
  for (const s of chain.steps) {
    const list = m.get(s.input.invoke.id) ?? [];
    list.push(s);
    m.set(s.input.invoke.id, list);
  }
  return m;
}

const runs = new Map<string, Lockstep>();
/** Each scenario × variant is run once and shared by the tests that read it. */
function cached(name: string, kernel: KernelVariant): Lockstep {
  const key = `${name} ${kernel}`;
  let r = runs.get(key);
  if (!r) {
    r = lockstep(scenarioOf(name, kernel));
    runs.set(key, r);
  }
  return r;
}

// the built-ins whose chains exercise the most: the OOM reap with its violations, a failing
// subscriber with ten retries and the victim's exit, the trylock that fails, an allocation
// that ends in the OOM killer (task -> mm, task -> oom -> mm)
const SCENARIOS = [
  'oom-reap-arm64',
  'userptr-eagain-arm64',
  'victim-exits-arm64',
  'reaper-trylock-fails-arm64',
  'interval-eagain-arm64',
  'blockable-paths-arm64',
  'oom-reap-x86',
] as const;
/** 5.8 everywhere (its violations are the interesting events); the fix once, to compare */
const RUNS: ReadonlyArray<readonly [string, KernelVariant]> = [
  ...SCENARIOS.map((s) => [s, '5.8'] as const),
  ['oom-reap-arm64', '5.8+fix'],
];

describe('execute: the distributed re-executions emit the in-process events, byte for byte', () => {
  it.each(RUNS)('%s on %s: every chain, its return, its timers and the globals', (name, kernel) => {
    const r = cached(name, kernel);
    expect(r.chains.length).toBeGreaterThan(1);
    for (const c of r.chains) {
      expect(c.distributed.events, `events of ${c.id}`).toEqual(c.inProcess);
      expect(c.distributed.ret, `return of ${c.id}`).toEqual(c.inProcessRet);
      expect(c.distributed.cursor.armed, `timers of ${c.id}`).toEqual(c.inProcessArmed);
      expect(c.distributed.ctx.globals, `globals after ${c.id}`).toEqual(c.inProcessGlobals);
      const violationEvents = c.inProcess.filter((e) => e.type === 'violation').length;
      const before = c.distributed.steps[0].input.invoke.cursor.violations;
      expect(c.distributed.cursor.violations - before, `violations of ${c.id}`).toBe(
        violationEvents,
      );
    }
    // the components end in the same state
    expect(wire(r.distributedStates)).toEqual(wire(r.inProcessStates));
  });

  it('the chains covered: nested calls three handlers deep, handlers re-executed after several replies, violations while their callers wait', () => {
    const r = cached('oom-reap-arm64', '5.8');
    const steps = r.chains.flatMap((c) => c.distributed.steps);
    expect(Math.max(...steps.map((s) => s.depth))).toBeGreaterThanOrEqual(2);
    expect(Math.max(...steps.map((s) => s.input.replies.length))).toBeGreaterThanOrEqual(2);
    // a violation emitted by a handler (kvm) while its caller (mm) and the caller's caller
    // (oom) are suspended
    const violating = steps.filter((s) => s.out.events.some((e) => e.type === 'violation'));
    expect(violating.length).toBeGreaterThan(0);
    expect(violating.every((s) => s.depth >= 2)).toBe(true);
    expect(violating.map((s) => s.input.invoke.fn)).toContain(
      'kvm_mmu_notifier_invalidate_range_start',
    );
  });
});

describe('execute: re-running a handler from its replies', () => {
  // the oom_reaper's wake-up on 5.8: oom_reaper_run (oom) calls oom_reap_task_mm and
  // oom_reap_finish (mm); oom_reap_task_mm calls KVM's range_start (2 violations) and _end
  function reaperChain(): Chain {
    const c = cached('oom-reap-arm64', '5.8').chains.find((x) => x.stim.fn === 'oom_reaper_run');
    if (!c) throw new Error('no oom_reaper_run in oom-reap-arm64');
    return c.distributed;
  }

  it('suspends at each call without a reply, having emitted exactly the events up to that call', () => {
    const chain = reaperChain();
    const oom = byHandler(chain).get(chain.steps[0].input.invoke.id) as Step[];
    expect(oom.map((s) => s.out.kind)).toEqual(['suspended', 'suspended', 'returned']);
    const [first, second, last] = oom.map((s) => s.out);
    if (first.kind !== 'suspended' || second.kind !== 'suspended') throw new Error('unreachable');
    expect([first.call.fn, first.call.index, first.call.to]).toEqual(['oom_reap_task_mm', 0, 'mm']);
    expect([second.call.fn, second.call.index, second.call.to]).toEqual([
      'oom_reap_finish',
      1,
      'mm',
    ]);
    // the call's event is the last one emitted before the suspension, and carries its id
    expect(first.events.at(-1)).toMatchObject({ type: 'call', id: first.call.id });
    expect(second.events.at(-1)).toMatchObject({ type: 'call', id: second.call.id });
    // ids are causation-derived: <handler id>.<n-th child>
    const id = chain.steps[0].input.invoke.id;
    expect(first.call.id).toBe(`${id}.0`);
    // the seq after a reply continues from the callee's cursor, not from the handler's own count
    const reply = oom[1].input.replies[0];
    expect(second.events[0].seq).toBe(reply.cursor.seq);
    expect(last.events.at(-1)).toMatchObject({ type: 'return', causationId: id });
    expect(last.emitted).toBe(oom.reduce((n, s) => n + s.out.events.length, 0));
  });

  it('a re-execution given the events already emitted emits nothing again (a redelivered message)', () => {
    for (const s of reaperChain().steps) {
      const again = execute({ ...s.input, emitted: s.out.emitted });
      expect(again.events).toEqual([]);
      expect({ ...again, events: [] }).toEqual({ ...s.out, events: [] });
    }
  });

  it('every re-execution equals one straight run from the same replies, cut at what was already emitted', () => {
    for (const steps of byHandler(reaperChain()).values()) {
      const fresh = steps.flatMap((s) => s.out.events);
      const last = steps[steps.length - 1];
      const straight = execute({ ...last.input, emitted: 0 });
      expect(straight.events).toEqual(fresh);
      for (const s of steps) {
        const run = execute({ ...s.input, emitted: 0 });
        expect(run.events.slice(s.input.emitted)).toEqual(s.out.events);
        expect(run.events.slice(0, s.input.emitted)).toEqual(fresh.slice(0, s.input.emitted));
      }
    }
  });

  it('is pure: the same input gives the same output and is left as it was', () => {
    for (const s of reaperChain().steps) {
      const before = wire(s.input);
      const a = execute(s.input);
      const b = execute(s.input);
      expect(a).toEqual(b);
      expect(wire(a)).toEqual(wire(s.out));
      expect(wire(s.input)).toEqual(before);
    }
  });
});

describe('execute: violations emitted by a handler before and after its calls', () => {
  /**
   * munmap invoked on mm in an atomic context (preempt_count 1): might_sleep() in
   * mmu_notifier_invalidate_range_start() fails before the call to KVM's range_start, and the
   * one in _end before the call to KVM's range_end; KVM adds its own from unmap_stage2_range.
   */
  function atomicMunmap(): { input: ExecuteInput; kvmSnapshot: unknown } {
    const scenario = scenarioOf('oom-reap-arm64', '5.8');
    // the states right after the fault-in at jiffy 0, before the allocation at 10
    const replay = lockstepUntil(scenario, (st) => st.step === 1);
    const ctx = makeContext(
      { pid: 1200, comm: 'qemu-system-aarch64', kthread: false },
      ['el0_svc', '__arm64_sys_munmap'],
      5,
      0,
      newGlobals(),
    );
    ctx.preemptCount = 1;
    ctx.preemptDisableIp = '__arm64_sys_munmap';
    return {
      input: {
        scenario,
        variant: variantOf('5.8'),
        invoke: wire({
          runId: RUN_ID,
          id: 's99',
          to: 'mm',
          fn: 'vm_munmap',
          args: { pid: 1200, start: 0x40000000, size: 3 * 1024 ** 3 },
          ctx,
          cursor: { seq: 1000, violations: 7, armed: [] },
          replyTo: { kind: 'orchestrator' },
        }),
        snapshot: wire(replay.mm),
        replies: [],
        emitted: 0,
      },
      kvmSnapshot: wire(replay.kvm),
    };
  }

  /** The components' states when `stop` is the next stimulus. */
  function lockstepUntil(scenario: Scenario, stop: (s: Stimulus) => boolean): ComponentStates {
    const states = initialStates(scenario.host.arch);
    const driver = new InProcessDriver(scenario, variantOf(scenario.kernel), states, () => {});
    const orchestrator = new Orchestrator(scenario, Infinity);
    let step = orchestrator.step(null, { kind: 'start' });
    while (step.out?.kind === 'invoke' && !stop(step.state.current?.stimulus as Stimulus)) {
      step = orchestrator.step(step.state, driver.runChain(step.out.invoke));
    }
    return states;
  }

  it('step by step, the handler emits each violation once, in place, with the ids and seqs of a straight run', () => {
    const { input, kvmSnapshot } = atomicMunmap();
    const parts: WireEvent[][] = [];
    const replies: RecordedReply[] = [];
    let kvm = kvmSnapshot;
    let out = execute(input);
    let calls = 0;
    const calleeEvents: WireEvent[] = [];
    while (out.kind === 'suspended') {
      parts.push(out.events);
      const { emitted } = out;
      calls++;
      // the callee runs as its own handler, on the cursor the caller handed on
      const c = out.call;
      const callee = execute({
        ...input,
        invoke: wire({
          runId: RUN_ID,
          id: c.id,
          to: c.to,
          fn: c.fn,
          args: c.args,
          ctx: c.ctx,
          cursor: out.cursor,
          replyTo: { kind: 'component', address: 'mm', handlerId: 's99', index: c.index },
        }),
        snapshot: kvm,
        replies: [],
        emitted: 0,
      });
      if (callee.kind !== 'returned') throw new Error('KVM handlers make no calls here');
      calleeEvents.push(...callee.events);
      kvm = callee.state;
      replies.push(wire({ ret: callee.ret, ctx: callee.ctx, cursor: callee.cursor }));
      out = execute({ ...input, replies: [...replies], emitted });
    }
    parts.push(out.events);
    expect(calls).toBe(2); // KVM's range_start, then its range_end
    const mine = parts.flat();
    const mineViolations = mine.filter((e) => e.type === 'violation');
    // might_sleep() in _start (before the first call) and in _end (before the second)
    expect(mineViolations.map((e) => JSON.parse(e.payload).violation.site)).toEqual([
      'include/linux/mmu_notifier.h:442',
      'include/linux/mmu_notifier.h:470',
    ]);
    expect(parts[0].map((e) => e.type)).toEqual(['violation', 'call']);
    expect(parts[1].map((e) => e.type)[0]).toBe('violation');
    expect(parts[1].map((e) => e.type)).toContain('call');
    // one straight run from all the replies emits the same events
    const straight = execute({ ...input, replies, emitted: 0 });
    expect(straight.kind).toBe('returned');
    expect(straight.events).toEqual(mine);
    // seqs: contiguous within each part; across a call, they resume at the callee's cursor
    for (const p of parts) {
      for (let i = 1; i < p.length; i++) expect(p[i].seq).toBe(p[i - 1].seq + 1);
    }
    expect(parts[0][0].seq).toBe(1000);
    expect(parts[1][0].seq).toBe(replies[0].cursor.seq);
    expect(parts[2][0].seq).toBe(replies[1].cursor.seq);
    // ids: the handler's children in order, whatever the callees emitted meanwhile
    expect(mine.map((e) => e.id)).toEqual(mine.map((_, i) => `s99.${i}`));
    expect(mine.every((e) => e.causationId === 's99')).toBe(true);
    // the violations count: from the cursor it was given, the handler's two plus KVM's
    const kvmViolations = calleeEvents.filter((e) => e.type === 'violation').length;
    expect(kvmViolations).toBeGreaterThan(0);
    if (out.kind !== 'returned') throw new Error('unreachable');
    expect(out.cursor.violations).toBe(7 + 2 + kvmViolations);
  });
});
