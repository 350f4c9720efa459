/**
 * RunScheduler's timing rules: which stimulus runs next in virtual time, and what done() does
 * with a chain's outcome. Kernel facts cite file:line as in a v5.8.1 tree; the rest is the
 * design's contract ("Timing rules, so that every run has one answer").
 *
 * The first part drives the scheduler by hand; the second runs the real kernel handlers behind
 * it through a Sys that calls them directly (no events), to time the oom_reaper and the
 * mmap_lock hold end to end.
 */
import { describe, expect, it } from 'vitest';
import {
  type ExecContext,
  type KernelGlobals,
  makeContext,
  newGlobals,
} from '../kernel/context.js';
import type { LogLevel } from '../kernel/printk.js';
import type { Address, Sys, TraceDetail } from '../kernel/sys.js';
import type { ViolationRecord } from '../kernel/sched/violation.js';
import { MAX_OOM_REAP_RETRIES } from '../mm/oom-kill.js';
import type { ProcessSpec, Scenario, Step, VmaSpec } from '../model/scenario.js';
import { variantOf, type Variant } from '../variants.js';
import type { CallArgs, CallName, CallRet } from './calls.js';
import { type ComponentStates, dispatch, initialStates } from './components.js';
import { type ArmedTimer, RunScheduler, type Stimulus } from './scheduler.js';

const GiB = 1024 ** 3;

const anon = (start: number, size: number): VmaSpec => ({
  start,
  size,
  anon: true,
  shared: false,
  locked: false,
  hugetlb: false,
  pfnmap: false,
});

function proc(pid: number, comm: string, extra: Partial<ProcessSpec> = {}): ProcessSpec {
  return { pid, comm, oomScoreAdj: 0, vmas: [anon(0x40000000, GiB)], vms: [], ...extra };
}

/** A normalized scenario (steps already sorted by `at`, as libs/scenarios hands them over). */
function scenario(steps: Step[], over: Partial<Scenario> = {}): Scenario {
  return {
    name: 'scheduler-spec',
    description: '',
    kernel: '5.8',
    seed: 1,
    hz: 250,
    host: { arch: 'x86', memory: 8 * GiB, pageSize: 4096, cpus: 4, lockdep: false },
    processes: [proc(1200, 'qemu-system-x86'), proc(1300, 'stress-ng')],
    subscribers: [],
    steps,
    ...over,
  };
}

function timer(at: number, id: string, fn: CallName = 'oom_reaper_run'): ArmedTimer {
  const args: CallArgs<CallName> = fn === 'mmap_write_unlock' ? { pid: 1200 } : {};
  return { at, to: fn === 'oom_reaper_run' ? 'oom' : 'mm', fn, args, armedBy: 's0', id };
}

/** Drains the scheduler, reporting every stimulus as done with no timers and no panic. */
function drain(s: RunScheduler, each?: (st: Stimulus) => ArmedTimer[]): Stimulus[] {
  const out: Stimulus[] = [];
  for (let st = s.next(); st !== null; st = s.next()) {
    out.push(st);
    s.done(st, null, each?.(st) ?? [], false);
  }
  return out;
}

const label = (st: Stimulus): string =>
  st.kind === 'timer' ? `timer ${st.timerId}@${st.jiffies}` : `${st.fn}#${st.step}@${st.jiffies}`;

describe('RunScheduler: boot, then steps in virtual time', () => {
  it('boot stimuli come first, at jiffy 0: mm_boot, one kvm_create_vm per VM in file order, register_drivers only with subscribers', () => {
    const vm = (name: string) => ({ name, ipaBits: 40, memslots: [] });
    const s = scenario([{ at: 0, do: 'oom' }], {
      processes: [
        proc(1200, 'qemu-a', { vms: [vm('g0'), vm('g1')] }),
        proc(1300, 'qemu-b', { vms: [vm('g2')] }),
      ],
      subscribers: [{ kind: 'userptr', pid: 1200, nonBlockable: 'eagain' }],
    });
    const run = drain(new RunScheduler(s));
    expect(run.map((st) => [st.fn, st.step, st.jiffies, st.kind])).toEqual([
      ['mm_boot', null, 0, 'step'],
      ['kvm_create_vm', null, 0, 'step'],
      ['kvm_create_vm', null, 0, 'step'],
      ['kvm_create_vm', null, 0, 'step'],
      ['register_drivers', null, 0, 'step'],
      ['moom_callback', 0, 0, 'step'],
    ]);
    expect(run.slice(1, 4).map((st) => st.args)).toEqual([
      { pid: 1200, vm: 'g0' },
      { pid: 1200, vm: 'g1' },
      { pid: 1300, vm: 'g2' },
    ]);
    // a VM is created by its process (the KVM_CREATE_VM ioctl), the mm boots as swapper
    expect(run[0].task).toEqual({ pid: 0, comm: 'swapper/0', kthread: true });
    expect(run[3].task).toEqual({ pid: 1300, comm: 'qemu-b', kthread: false });
    // without subscribers there is no register_drivers
    const plain = drain(new RunScheduler(scenario([])));
    expect(plain.map((st) => st.fn)).toEqual(['mm_boot']);
  });

  it('steps run at their own jiffy, in file order when they share one; no HZ conversion', () => {
    const steps: Step[] = [
      { at: 0, do: 'oom' },
      { at: 10, do: 'munmap', pid: 1300, start: 0x40000000, size: 4096 },
      { at: 10, do: 'oom' },
      { at: 10, do: 'mprotect', pid: 1200, start: 0x40000000, size: 4096 },
      { at: 7000, do: 'exit', pid: 1300 },
    ];
    for (const hz of [100, 250, 300, 1000]) {
      const sch = new RunScheduler(scenario(steps, { hz }));
      const run = drain(sch).slice(1); // after mm_boot
      expect(run.map(label)).toEqual([
        'moom_callback#0@0',
        'vm_munmap#1@10',
        'moom_callback#2@10',
        'mprotect#3@10',
        'task_exit#4@7000',
      ]);
      expect(sch.state.now).toBe(7000);
    }
  });

  it('each stimulus runs on a CPU drawn from the seeded PRNG: in range, and the same for the same seed', () => {
    const steps: Step[] = Array.from({ length: 40 }, (_, i) => ({ at: i, do: 'oom' as const }));
    const cpus = (seed: number, n: number): number[] =>
      drain(
        new RunScheduler(scenario(steps, { seed, host: { ...scenario([]).host, cpus: n } })),
      ).map((st) => st.cpu);
    const a = cpus(7, 4);
    expect(a).toEqual(cpus(7, 4));
    expect(a.every((c) => Number.isInteger(c) && c >= 0 && c < 4)).toBe(true);
    expect(new Set(a).size).toBeGreaterThan(1);
    expect(cpus(8, 4)).not.toEqual(a);
    expect(new Set(cpus(7, 1))).toEqual(new Set([0]));
  });
});

describe('RunScheduler: timers armed by a chain', () => {
  it('a timer runs at its `at`, between the steps around it, as a timer stimulus that names its arming event', () => {
    const sch = new RunScheduler(
      scenario([
        { at: 10, do: 'oom' },
        { at: 20, do: 'oom' },
      ]),
    );
    const run = drain(sch, (st) => (st.step === 0 ? [timer(15, 's0.3')] : []));
    expect(run.slice(1).map(label)).toEqual([
      'moom_callback#0@10',
      'timer s0.3@15',
      'moom_callback#1@20',
    ]);
    const t = run[2];
    expect(t).toMatchObject({ kind: 'timer', step: null, to: 'oom', fn: 'oom_reaper_run' });
    expect(t.armedBy).toBe('s0');
    // the oom_reaper kthread runs it (pid 36 as in the splat, reference §6.2)
    expect(t.task).toEqual({ pid: 36, comm: 'oom_reaper', kthread: true });
    expect(t.stack).toEqual(['ret_from_fork', 'kthread', 'oom_reaper']);
  });

  it('timers at the same jiffy run in arming order, across chains and within one', () => {
    const sch = new RunScheduler(
      scenario([
        { at: 1, do: 'oom' },
        { at: 2, do: 'oom' },
      ]),
    );
    const run = drain(sch, (st) => {
      if (st.step === 0) return [timer(50, 'a'), timer(40, 'b')];
      if (st.step === 1) return [timer(50, 'c'), timer(40, 'd')];
      return [];
    });
    expect(run.slice(3).map(label)).toEqual([
      'timer b@40',
      'timer d@40',
      'timer a@50',
      'timer c@50',
    ]);
  });

  it('a timer armed for the current jiffy runs before any later step (wake_oom_reaper has no delay at 5.8)', () => {
    const sch = new RunScheduler(
      scenario([
        { at: 10, do: 'oom' },
        { at: 11, do: 'oom' },
      ]),
    );
    const run = drain(sch, (st) => (st.step === 0 ? [timer(10, 'r')] : []));
    expect(run.slice(1).map(label)).toEqual([
      'moom_callback#0@10',
      'timer r@10',
      'moom_callback#1@11',
    ]);
  });

  it('a step and a timer on the same jiffy: the seeded PRNG decides, the same way for the same seed', () => {
    const order = (seed: number): string[] => {
      const sch = new RunScheduler(
        scenario(
          [
            { at: 10, do: 'oom' },
            { at: 20, do: 'oom' },
          ],
          { seed },
        ),
      );
      return drain(sch, (st) => (st.step === 0 ? [timer(20, 't')] : []))
        .slice(2)
        .map(label);
    };
    const seen = new Set<string>();
    for (let seed = 0; seed < 32; seed++) {
      const o = order(seed);
      expect(order(seed)).toEqual(o);
      seen.add(o.join(' '));
    }
    // both interleavings happen for some seed, and nothing else does
    expect([...seen].sort()).toEqual([
      'moom_callback#1@20 timer t@20',
      'timer t@20 moom_callback#1@20',
    ]);
  });

  it('with no step left, timers still run, in time order; then the run is over', () => {
    const sch = new RunScheduler(scenario([{ at: 5, do: 'oom' }]));
    const run = drain(sch, (st) =>
      st.timerId === 'x' ? [timer(900, 'y')] : st.step === 0 ? [timer(30, 'x')] : [],
    );
    expect(run.slice(1).map(label)).toEqual(['moom_callback#0@5', 'timer x@30', 'timer y@900']);
    expect(sch.next()).toBeNull();
    expect(sch.state.now).toBe(900);
  });
});

describe('RunScheduler: hold-mmap-lock parks the steps that need that mmap_lock', () => {
  const hold = (): Scenario =>
    scenario([
      { at: 20, do: 'hold-mmap-lock', pid: 1200, for: 30 },
      { at: 25, do: 'munmap', pid: 1200, start: 0x40000000, size: 4096 },
      { at: 26, do: 'oom' }, // needs no mmap_lock
      { at: 27, do: 'munmap', pid: 1300, start: 0x40000000, size: 4096 }, // another mm
      { at: 28, do: 'allocate', pid: 1200, size: 4096 },
      { at: 29, do: 'exit', pid: 1200 },
      { at: 60, do: 'mprotect', pid: 1200, start: 0x40000000, size: 4096 },
    ]);

  it('steps of the holder pid wait for the unlock, then run at the unlock jiffy in file order, before later steps', () => {
    const sch = new RunScheduler(hold());
    const run: Stimulus[] = [];
    for (let st = sch.next(); st !== null; st = sch.next()) {
      run.push(st);
      if (st.fn === 'mmap_write_lock_hold') {
        expect(st.args).toEqual({ for: 30, pid: 1200 });
        // what mmapWriteLockHold() arms: the release `for` jiffies later
        sch.done(st, 0, [timer(20 + 30, 'unlock', 'mmap_write_unlock')], false);
      } else sch.done(st, null, [], false);
    }
    expect(run.slice(1).map(label)).toEqual([
      'mmap_write_lock_hold#0@20',
      'moom_callback#2@26',
      'vm_munmap#3@27',
      'timer unlock@50',
      'vm_munmap#1@50',
      'task_allocate#4@50',
      'task_exit#5@50',
      'mprotect#6@60',
    ]);
  });

  it('a hold that failed (ret != 0, no such process) parks nothing', () => {
    const sch = new RunScheduler(hold());
    const run = drain(sch).slice(1);
    expect(run.map((st) => st.step)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(run.map((st) => st.jiffies)).toEqual([20, 25, 26, 27, 28, 29, 60]);
  });

  it("fault-in waits for the VM owner's mmap_lock; destroy-vm does not", () => {
    const vm = { name: 'g0', ipaBits: 40, memslots: [] };
    const s = scenario(
      [
        { at: 1, do: 'hold-mmap-lock', pid: 1200, for: 9 },
        { at: 2, do: 'fault-in', vm: 'g0' },
        { at: 3, do: 'destroy-vm', vm: 'g0' },
      ],
      { processes: [proc(1200, 'qemu', { vms: [vm] }), proc(1300, 'stress-ng')] },
    );
    const sch = new RunScheduler(s);
    const run: Stimulus[] = [];
    for (let st = sch.next(); st !== null; st = sch.next()) {
      run.push(st);
      const armed = st.step === 0 ? [timer(10, 'unlock', 'mmap_write_unlock')] : [];
      sch.done(st, st.step === 0 ? 0 : null, armed, false);
    }
    expect(run.slice(2).map(label)).toEqual([
      'mmap_write_lock_hold#0@1',
      'task_close_vm#2@3',
      'timer unlock@10',
      'kvm_fault_in#1@10',
    ]);
  });
});

describe('RunScheduler: after a panic nothing runs', () => {
  it('done(…, panicked = true) ends the run: no later step, no pending timer', () => {
    // panic("System is deadlocked on memory") in out_of_memory() (mm/oom_kill.c:1109-1110) stops
    // the machine: nothing after it is scheduled
    const sch = new RunScheduler(
      scenario([
        { at: 10, do: 'allocate', pid: 1300, size: 4096 },
        { at: 20, do: 'oom' },
      ]),
    );
    const first = sch.next() as Stimulus; // mm_boot
    sch.done(first, null, [timer(15, 'pending')], false);
    const step = sch.next() as Stimulus;
    expect(step.step).toBe(0);
    sch.done(step, null, [timer(12, 'later')], true);
    expect(sch.state.halted).toBe(true);
    expect(sch.next()).toBeNull();
    expect(sch.next()).toBeNull();
  });

  it('a panic during boot stops the boot stimuli too', () => {
    const vm = { name: 'g0', ipaBits: 40, memslots: [] };
    const s = scenario([{ at: 0, do: 'oom' }], {
      processes: [proc(1200, 'qemu', { vms: [vm] })],
    });
    const sch = new RunScheduler(s);
    sch.done(sch.next() as Stimulus, null, [], true);
    expect(sch.next()).toBeNull();
  });
});

// -------------------------------------------------------------------------------------------------
// With the kernel behind it

interface Printed {
  jiffies: number;
  text: string;
}

/** The components called directly, as the embedded engine does, minus the events. */
class DirectSys implements Sys {
  readonly hz: number;
  readonly host: Scenario['host'];
  readonly variant: Variant;
  armed: ArmedTimer[] = [];
  readonly log: Printed[] = [];
  readonly traces: Array<{ jiffies: number; what: string; detail: TraceDetail }> = [];
  readonly violations: ViolationRecord[] = [];
  private timers = 0;

  constructor(
    readonly scenario: Scenario,
    private readonly states: ComponentStates,
  ) {
    this.hz = scenario.hz;
    this.host = scenario.host;
    this.variant = variantOf(scenario.kernel);
  }

  call<F extends CallName>(ctx: ExecContext, to: Address, fn: F, args: CallArgs<F>): CallRet<F> {
    return dispatch(this.states, to, fn, args, ctx, this);
  }

  printk(ctx: ExecContext, _level: LogLevel, text: string): void {
    this.log.push({ jiffies: ctx.jiffies, text });
  }

  trace(ctx: ExecContext, what: string, detail: TraceDetail): void {
    this.traces.push({ jiffies: ctx.jiffies, what, detail });
  }

  violation(_ctx: ExecContext, v: ViolationRecord): void {
    this.violations.push(v);
  }

  arm<F extends CallName>(_c: ExecContext, at: number, to: Address, fn: F, a: CallArgs<F>): void {
    this.armed.push({ at, to, fn, args: a, armedBy: 'chain', id: `timer${this.timers++}` });
  }
}

interface KernelRun {
  stimuli: Stimulus[];
  sys: DirectSys;
  globals: KernelGlobals;
  scheduler: RunScheduler;
}

function runKernel(s: Scenario): KernelRun {
  const states = initialStates(s.host.arch);
  const sys = new DirectSys(s, states);
  const globals = newGlobals();
  const scheduler = new RunScheduler(s);
  const stimuli: Stimulus[] = [];
  for (let st = scheduler.next(); st !== null; st = scheduler.next()) {
    stimuli.push(st);
    sys.armed = [];
    const ctx = makeContext(st.task, st.stack, st.jiffies, st.cpu, globals);
    const ret = dispatch(states, st.to, st.fn, st.args, ctx, sys);
    scheduler.done(st, ret, sys.armed, globals.panicked);
  }
  return { stimuli, sys, globals, scheduler };
}

/** The jiffies of the reaper's tries: oom_reap_task_mm() calls, as trace points say. */
function reaperTries(r: KernelRun): number[] {
  return r.sys.traces
    .filter((t) => t.what === 'start_task_reaping' || t.what === 'skip_task_reaping')
    .map((t) => t.jiffies);
}

const printedAt = (r: KernelRun, re: RegExp): number[] =>
  r.sys.log.filter((l) => re.test(l.text)).map((l) => l.jiffies);

const UNABLE = /^oom_reaper: unable to reap pid:1200 \(qemu-system-x86\)$/;
const REAPED = /^oom_reaper: reaped process 1200 \(qemu-system-x86\)/;

describe('the oom_reaper in virtual time (mm/oom_kill.c at 5.8)', () => {
  // stress-ng may not be chosen (OOM_SCORE_ADJ_MIN); qemu's mmap_lock is held for writing
  // from jiffy 5 for `hold` jiffies; sysrq-f at 10 kills qemu and wakes the reaper
  function lockedVictim(hz: number, hold: number, exitAt?: number): Scenario {
    const steps: Step[] = [
      { at: 5, do: 'hold-mmap-lock', pid: 1200, for: hold },
      { at: 10, do: 'oom' },
    ];
    if (exitAt !== undefined) steps.push({ at: exitAt, do: 'exit', pid: 1200 });
    return scenario(steps, {
      hz,
      processes: [proc(1200, 'qemu-system-x86'), proc(1300, 'stress-ng', { oomScoreAdj: -1000 })],
    });
  }

  it('MAX_OOM_REAP_RETRIES is 10 (mm/oom_kill.c:608)', () => {
    expect(MAX_OOM_REAP_RETRIES).toBe(10);
  });

  // mm/oom_kill.c:615-616: `while (attempts++ < MAX_OOM_REAP_RETRIES && !oom_reap_task_mm(tsk,
  // mm)) schedule_timeout_idle(HZ/10);` -- a sleep of HZ/10 (integer division; the Kconfig.hz
  // choices 100/250/300/1000 all divide by 10) follows every failed try, the tenth included
  // (kernel/time/timer.c:1911: expire = timeout + jiffies). Then, with every try failed and no
  // MMF_OOM_SKIP, "unable to reap" (mm/oom_kill.c:618-623).
  it.each([
    [100, 10],
    [250, 25],
    [300, 30],
    [1000, 100],
  ])(
    'HZ %i: 10 tries HZ/10 = %i apart from the kill, then "unable to reap" HZ after it',
    (hz, tick) => {
      const r = runKernel(lockedVictim(hz, 100 * hz));
      const tries = Array.from({ length: 10 }, (_, i) => 10 + i * tick);
      expect(reaperTries(r)).toEqual(tries);
      expect(
        r.sys.traces.filter((t) => t.what === 'skip_task_reaping').map((t) => t.detail),
      ).toEqual(
        tries.map(() => ({
          holder: 'qemu-system-x86/1200',
          pid: 1200,
          reason: 'mmap_read_trylock',
        })),
      );
      expect(printedAt(r, UNABLE)).toEqual([10 + 10 * tick]);
      expect(printedAt(r, REAPED)).toEqual([]);
      // every oom_reaper_run is a timer stimulus of the reaper kthread: one per try plus the last
      // sleep's wake-up, which finds the retries spent
      const wakeups = r.stimuli.filter((st) => st.fn === 'oom_reaper_run');
      expect(wakeups.map((st) => st.jiffies)).toEqual([...tries, 10 + 10 * tick]);
      expect(wakeups.every((st) => st.kind === 'timer' && st.task.comm === 'oom_reaper')).toBe(
        true,
      );
    },
  );

  it('the try after the hold ends succeeds, and nothing is tried after a success', () => {
    // HZ 250: tries at 10, 35, 60; the lock is released at 5 + 50 = 55
    const r = runKernel(lockedVictim(250, 50));
    expect(reaperTries(r)).toEqual([10, 35, 60]);
    expect(printedAt(r, REAPED)).toEqual([60]);
    expect(printedAt(r, UNABLE)).toEqual([]);
    expect(r.stimuli.filter((st) => st.fn === 'oom_reaper_run').map((st) => st.jiffies)).toEqual([
      10, 35, 60,
    ]);
  });

  it('a release on the jiffy of a retry runs first (armed first), so that retry succeeds', () => {
    // released at 5 + 30 = 35, retry armed at 10 for 35: the unlock was armed at 5
    const r = runKernel(lockedVictim(250, 30));
    expect(
      r.stimuli.filter((st) => st.kind === 'timer').map((st) => `${st.fn}@${st.jiffies}`),
    ).toEqual(['oom_reaper_run@10', 'mmap_write_unlock@35', 'oom_reaper_run@35']);
    expect(printedAt(r, REAPED)).toEqual([35]);
  });

  it('the tenth try is the last: a release just after it is too late', () => {
    // HZ 100: tries at 10 … 100; released at 5 + 96 = 101; the wake-up at 110 gives up
    const late = runKernel(lockedVictim(100, 96));
    expect(reaperTries(late)).toHaveLength(10);
    expect(printedAt(late, UNABLE)).toEqual([110]);
    // released at 100, before the tenth try (armed at 90, after the unlock): it succeeds
    const inTime = runKernel(lockedVictim(100, 95));
    expect(reaperTries(inTime)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    expect(printedAt(inTime, REAPED)).toEqual([100]);
    expect(printedAt(inTime, UNABLE)).toEqual([]);
  });

  it('the victim parks its own exit behind the hold; hold `for` is in jiffies at every HZ', () => {
    for (const hz of [100, 250, 300, 1000]) {
      const r = runKernel(lockedVictim(hz, 40, 20));
      const unlock = r.stimuli.find((st) => st.fn === 'mmap_write_unlock');
      expect(unlock?.jiffies).toBe(45);
      const exit = r.stimuli.find((st) => st.fn === 'task_exit');
      expect(exit?.jiffies).toBe(45);
      expect(exit?.step).toBe(2);
    }
  });
});

describe('the run after a kernel panic (mm/oom_kill.c:1103-1110)', () => {
  it('an allocation with no killable task panics; the later steps do not run', () => {
    // every task is OOM_SCORE_ADJ_MIN: select_bad_process() finds nothing, and a non-sysrq,
    // non-memcg OOM panics ("System is deadlocked on memory")
    const s = scenario(
      [
        { at: 10, do: 'allocate', pid: 1300, size: 3 * GiB },
        { at: 20, do: 'oom' },
        { at: 30, do: 'exit', pid: 1200 },
      ],
      {
        host: { arch: 'x86', memory: 2 * GiB, pageSize: 4096, cpus: 2, lockdep: false },
        processes: [
          proc(1200, 'qemu-system-x86', { oomScoreAdj: -1000 }),
          proc(1300, 'stress-ng', { oomScoreAdj: -1000, vmas: [anon(0x100000000, 3 * GiB)] }),
        ],
      },
    );
    const r = runKernel(s);
    expect(r.globals.panicked).toBe(true);
    expect(r.stimuli.map((st) => st.fn)).toEqual(['mm_boot', 'task_allocate']);
    expect(r.sys.log.map((l) => l.text)).toContain(
      'Kernel panic - not syncing: System is deadlocked on memory',
    );
    expect(r.scheduler.state.now).toBe(10);
  });
});
