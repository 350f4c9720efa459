/**
 * The orchestrator's logic, pure: which stimulus runs next in virtual time. Boot first; then
 * steps at their jiffy in file order and timers at theirs in arming order; when a step and a
 * timer fall on the same jiffy the seeded PRNG decides. A step that needs an mmap_lock held by a
 * hold-mmap-lock waits for the release. After a panic nothing runs.
 */
import type { TaskRef } from '../kernel/context.js';
import type { Address } from '../kernel/sys.js';
import type { Scenario, Step } from '../model/scenario.js';
import type { CallArgs, CallName } from './calls.js';
import {
  KWORKER_STACK,
  OOM_REAPER_STACK,
  OOM_REAPER_TASK,
  SWAPPER_TASK,
  SYSRQ_KWORKER_TASK,
  pageFaultEntry,
  syscallEntry,
} from './entry.js';
import { type PrngState, nextInt, nextU32, seedPrng } from './prng.js';

export type StimulusKind = 'step' | 'timer';

export interface Stimulus<F extends CallName = CallName> {
  kind: StimulusKind;
  /** index into scenario.steps; null for boot and timers */
  step: number | null;
  to: Address;
  fn: F;
  args: CallArgs<F>;
  jiffies: number;
  cpu: number;
  task: TaskRef;
  stack: string[];
  /** for a timer: the id of the event during which it was armed */
  armedBy: string | null;
  /** for a timer: its own event id, reserved when it was armed */
  timerId: string | null;
}

export interface ArmedTimer {
  at: number;
  to: Address;
  fn: CallName;
  args: CallArgs<CallName>;
  armedBy: string;
  id: string;
}

interface PendingTimer extends ArmedTimer {
  order: number;
}

/** The mmap_lock a step's own path takes, if any (so it must wait for a hold to end). */
export function mmapLockNeededBy(step: Step, scenario: Scenario): number | null {
  switch (step.do) {
    case 'munmap':
    case 'mprotect':
    case 'migrate':
    case 'allocate':
    case 'hold-mmap-lock':
    case 'exit':
      return step.pid;
    case 'fault-in':
    case 'vcpu-fault':
      return scenario.processes.find((p) => p.vms.some((v) => v.name === step.vm))?.pid ?? null;
    default:
      return null;
  }
}

export interface SchedulerState {
  prng: PrngState;
  /** boot stimuli not yet run */
  boot: number;
  /** next step index not yet taken from the file order */
  nextStep: number;
  /** steps that were deferred and are ready again, in file order */
  ready: number[];
  /** deferred steps per pid whose mmap_lock is held */
  parked: Record<string, number[]>;
  held: Record<string, boolean>;
  timers: PendingTimer[];
  timerOrder: number;
  now: number;
  halted: boolean;
}

export class RunScheduler {
  readonly state: SchedulerState;
  private readonly bootStimuli: Array<Omit<Stimulus, 'cpu'>>;

  /**
   * A scheduler for the scenario, from its start or resuming `state` (which it then changes in
   * place: the state is a plain JSON object that a distributed orchestrator keeps between messages).
   */
  constructor(
    private readonly scenario: Scenario,
    state?: SchedulerState,
  ) {
    this.state = state ?? {
      prng: seedPrng(scenario.seed),
      boot: 0,
      nextStep: 0,
      ready: [],
      parked: {},
      held: {},
      timers: [],
      timerOrder: 0,
      now: 0,
      halted: false,
    };
    const arch = scenario.host.arch;
    const boot: Array<Omit<Stimulus, 'cpu'>> = [
      this.bootStimulus('mm', 'mm_boot', {}, SWAPPER_TASK, []),
    ];
    for (const p of scenario.processes) {
      for (const vm of p.vms) {
        boot.push(
          this.bootStimulus(
            `kvm:${arch}`,
            'kvm_create_vm',
            { pid: p.pid, vm: vm.name },
            { pid: p.pid, comm: p.comm, kthread: false },
            syscallEntry(arch, 'ioctl'),
          ),
        );
      }
    }
    if (scenario.subscribers.length > 0) {
      boot.push(this.bootStimulus('mm', 'register_drivers', {}, SWAPPER_TASK, []));
    }
    this.bootStimuli = boot;
  }

  private bootStimulus<F extends CallName>(
    to: Address,
    fn: F,
    args: CallArgs<F>,
    task: TaskRef,
    stack: string[],
  ): Omit<Stimulus, 'cpu'> {
    return {
      kind: 'step',
      step: null,
      to,
      fn,
      args,
      jiffies: 0,
      task,
      stack,
      armedBy: null,
      timerId: null,
    };
  }

  /** The next stimulus, or null when the run is over. */
  next(): Stimulus | null {
    const st = this.state;
    if (st.halted) return null;
    if (st.boot < this.bootStimuli.length) {
      return this.withCpu(this.bootStimuli[st.boot++]);
    }
    for (;;) {
      const stepIdx = this.peekStep();
      const timer = this.peekTimer();
      if (stepIdx === null && timer === null) return null;
      const stepAt =
        stepIdx === null ? Infinity : Math.max(this.scenario.steps[stepIdx].at, st.now);
      const timerAt = timer === null ? Infinity : timer.at;
      let takeStep: boolean;
      if (stepAt < timerAt) takeStep = true;
      else if (timerAt < stepAt) takeStep = false;
      else takeStep = (nextU32(st.prng) & 1) === 0; // same jiffy: the seeded scheduler decides
      if (!takeStep && timer) {
        st.timers.splice(st.timers.indexOf(timer), 1);
        st.now = Math.max(st.now, timer.at);
        return this.timerStimulus(timer);
      }
      const idx = this.takeStep();
      const step = this.scenario.steps[idx];
      st.now = Math.max(st.now, step.at);
      const lockPid = mmapLockNeededBy(step, this.scenario);
      if (lockPid !== null && st.held[lockPid]) {
        (st.parked[lockPid] ??= []).push(idx);
        continue;
      }
      return this.stepStimulus(idx, step);
    }
  }

  /**
   * Tells the scheduler what a stimulus's chain did: the timers it armed, its return value, and
   * whether the kernel panicked.
   */
  done(s: Stimulus, ret: unknown, armed: readonly ArmedTimer[], panicked: boolean): void {
    const st = this.state;
    for (const t of armed) st.timers.push({ ...t, order: st.timerOrder++ });
    if (s.fn === 'mmap_write_lock_hold' && ret === 0) {
      st.held[(s.args as CallArgs<'mmap_write_lock_hold'>).pid] = true;
    }
    if (s.fn === 'mmap_write_unlock') {
      const pid = (s.args as CallArgs<'mmap_write_unlock'>).pid;
      st.held[pid] = false;
      const parked = st.parked[pid] ?? [];
      delete st.parked[pid];
      // released steps run next, before later steps, in file order
      st.ready = [...parked, ...st.ready].sort((a, b) => a - b);
    }
    if (panicked) st.halted = true;
  }

  private peekStep(): number | null {
    const st = this.state;
    if (st.ready.length > 0) return st.ready[0];
    return st.nextStep < this.scenario.steps.length ? st.nextStep : null;
  }

  private takeStep(): number {
    const st = this.state;
    if (st.ready.length > 0) return st.ready.shift() as number;
    return st.nextStep++;
  }

  private peekTimer(): PendingTimer | null {
    let best: PendingTimer | null = null;
    for (const t of this.state.timers) {
      if (!best || t.at < best.at || (t.at === best.at && t.order < best.order)) best = t;
    }
    return best;
  }

  // Built field by field: object spread is slow on V8 (Node 20) and this runs once per stimulus.
  private withCpu(s: Omit<Stimulus, 'cpu'>): Stimulus {
    return {
      kind: s.kind,
      step: s.step,
      to: s.to,
      fn: s.fn,
      args: s.args,
      jiffies: s.jiffies,
      cpu: nextInt(this.state.prng, this.scenario.host.cpus),
      task: s.task,
      stack: s.stack,
      armedBy: s.armedBy,
      timerId: s.timerId,
    };
  }

  private stepOf<F extends CallName>(
    index: number,
    to: Address,
    fn: F,
    args: CallArgs<F>,
    task: TaskRef,
    stack: string[],
  ): Stimulus {
    return this.withCpu({
      kind: 'step',
      step: index,
      to,
      fn,
      args,
      jiffies: this.state.now,
      task,
      stack,
      armedBy: null,
      timerId: null,
    });
  }

  private processTask(pid: number): TaskRef {
    const p = this.scenario.processes.find((x) => x.pid === pid);
    return { pid, comm: p?.comm ?? '?', kthread: false };
  }

  private timerStimulus(t: PendingTimer): Stimulus {
    const arch = this.scenario.host.arch;
    let task: TaskRef;
    let stack: string[];
    if (t.fn === 'oom_reaper_run') {
      task = OOM_REAPER_TASK;
      stack = [...OOM_REAPER_STACK];
    } else {
      const pid = (t.args as { pid: number }).pid;
      task = this.processTask(pid);
      stack = syscallEntry(arch, 'mmap_pgoff');
    }
    return this.withCpu({
      kind: 'timer',
      step: null,
      to: t.to,
      fn: t.fn,
      args: t.args,
      jiffies: t.at,
      task,
      stack,
      armedBy: t.armedBy,
      timerId: t.id,
    });
  }

  private stepStimulus(index: number, step: Step): Stimulus {
    const arch = this.scenario.host.arch;
    const kvm = `kvm:${arch}` as const;
    const sys = (name: string): string[] => syscallEntry(arch, name);
    switch (step.do) {
      case 'fault-in': {
        const pid = this.ownerOf(step.vm);
        return this.stepOf(
          index,
          kvm,
          'kvm_fault_in',
          { vm: step.vm },
          this.processTask(pid),
          sys('ioctl'),
        );
      }
      case 'vcpu-fault': {
        // KVM_RUN on one of the VM's vCPU threads: a thread of the VM's process
        const pid = this.ownerOf(step.vm);
        return this.stepOf(
          index,
          kvm,
          'kvm_vcpu_fault',
          { gpa: step.gpa, vm: step.vm },
          this.processTask(pid),
          sys('ioctl'),
        );
      }
      case 'allocate':
        return this.stepOf(
          index,
          'task',
          'task_allocate',
          { pid: step.pid, size: step.size },
          this.processTask(step.pid),
          pageFaultEntry(arch),
        );
      case 'hold-mmap-lock':
        return this.stepOf(
          index,
          'mm',
          'mmap_write_lock_hold',
          { for: step.for, pid: step.pid },
          this.processTask(step.pid),
          sys('mmap_pgoff'),
        );
      case 'munmap':
        return this.stepOf(
          index,
          'mm',
          'vm_munmap',
          { pid: step.pid, size: step.size, start: step.start },
          this.processTask(step.pid),
          sys('munmap'),
        );
      case 'mprotect':
        return this.stepOf(
          index,
          'mm',
          'mprotect',
          { pid: step.pid, size: step.size, start: step.start },
          this.processTask(step.pid),
          sys('mprotect'),
        );
      case 'migrate':
        return this.stepOf(
          index,
          'mm',
          'migrate_vma',
          { pid: step.pid, size: step.size, start: step.start },
          this.processTask(step.pid),
          sys('ioctl'),
        );
      case 'destroy-vm': {
        const pid = this.ownerOf(step.vm);
        return this.stepOf(
          index,
          'task',
          'task_close_vm',
          { pid, vm: step.vm },
          this.processTask(pid),
          sys('close'),
        );
      }
      case 'exit':
        return this.stepOf(
          index,
          'task',
          'task_exit',
          { pid: step.pid },
          this.processTask(step.pid),
          [...sys('exit_group'), 'do_group_exit'],
        );
      case 'oom':
        return this.stepOf(index, 'oom', 'moom_callback', {}, SYSRQ_KWORKER_TASK, [
          ...KWORKER_STACK,
        ]);
    }
  }

  private ownerOf(vm: string): number {
    return this.scenario.processes.find((p) => p.vms.some((v) => v.name === vm))?.pid ?? 0;
  }
}
