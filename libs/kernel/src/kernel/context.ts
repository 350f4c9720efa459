/**
 * The execution context a kernel call chain runs in: what `current` and the per-CPU state would
 * say at this point of the chain. It travels with every cross-component call (design: "the message
 * carries the caller's execution context"), so the callee runs exactly as it would on the
 * caller's stack.
 */

export interface TaskRef {
  pid: number;
  /** task->comm: at most TASK_COMM_LEN - 1 = 15 characters, as the kernel keeps it */
  comm: string;
  kthread: boolean;
}

export interface HeldLock {
  /** the lockdep class name, e.g. "&mm->mmap_lock" */
  name: string;
  /** the frame that took it (lockdep prints "at: <fn>") */
  at: string;
}

/**
 * Kernel-wide state that is not per component: ___might_sleep's `static prev_jiffy` (one for all
 * tasks and sites) and the taint mask. One call chain is in flight per run, so it travels with
 * the chain and comes back in every reply.
 */
export interface KernelGlobals {
  prevJiffy: number;
  /** TAINT_WARN set by a printed ___might_sleep report */
  taintWarn: boolean;
  /** panic() was called: the machine stops, no later stimulus runs */
  panicked: boolean;
}

export interface ExecContext {
  jiffies: number;
  cpu: number;
  task: TaskRef;
  preemptCount: number;
  nonBlockCount: number;
  irqsDisabled: boolean;
  /** the frame that raised preempt_count from 0 (CONFIG_DEBUG_PREEMPT's preempt_disable_ip) */
  preemptDisableIp: string | null;
  locks: HeldLock[];
  /** source-level call chain, outermost first (ret_from_fork … current function) */
  stack: string[];
  globals: KernelGlobals;
}

export const TASK_COMM_LEN = 16;

export function taskComm(comm: string): string {
  return comm.slice(0, TASK_COMM_LEN - 1);
}

export function newGlobals(): KernelGlobals {
  // keys in code-point order: the canonical encoding then needs no sorting (libs/events)
  return { panicked: false, prevJiffy: 0, taintWarn: false };
}

export function makeContext(
  task: TaskRef,
  stack: readonly string[],
  jiffies: number,
  cpu: number,
  globals: KernelGlobals,
): ExecContext {
  // keys in code-point order: the canonical encoding then needs no sorting (libs/events)
  return {
    cpu,
    globals,
    irqsDisabled: false,
    jiffies,
    locks: [],
    nonBlockCount: 0,
    preemptCount: 0,
    preemptDisableIp: null,
    stack: stack.slice(),
    task: { comm: taskComm(task.comm), kthread: task.kthread, pid: task.pid },
  };
}

/** A deep copy for a message: the receiver may run in another process. */
export function snapshotContext(ctx: ExecContext): ExecContext {
  return {
    cpu: ctx.cpu,
    globals: { ...ctx.globals },
    irqsDisabled: ctx.irqsDisabled,
    jiffies: ctx.jiffies,
    locks: ctx.locks.map((l) => ({ ...l })),
    nonBlockCount: ctx.nonBlockCount,
    preemptCount: ctx.preemptCount,
    preemptDisableIp: ctx.preemptDisableIp,
    stack: [...ctx.stack],
    task: { ...ctx.task },
  };
}

/** Runs `body` with `fn` pushed on the source-level stack (a call to a function of that name). */
export function frame<T>(ctx: ExecContext, fn: string, body: () => T): T {
  ctx.stack.push(fn);
  try {
    return body();
  } finally {
    ctx.stack.pop();
  }
}

export function currentFrame(ctx: ExecContext): string {
  return ctx.stack[ctx.stack.length - 1] ?? '';
}

function acquire(ctx: ExecContext, name: string): void {
  ctx.locks.push({ at: currentFrame(ctx), name });
}

function release(ctx: ExecContext, name: string): void {
  for (let i = ctx.locks.length - 1; i >= 0; i--) {
    if (ctx.locks[i].name === name) {
      ctx.locks.splice(i, 1);
      return;
    }
  }
  throw new Error(`lock ${name} released but not held by ${ctx.task.comm}/${ctx.task.pid}`);
}

function preemptDisable(ctx: ExecContext): void {
  if (ctx.preemptCount === 0) ctx.preemptDisableIp = currentFrame(ctx);
  ctx.preemptCount++;
}

function preemptEnable(ctx: ExecContext): void {
  ctx.preemptCount--;
  if (ctx.preemptCount === 0) ctx.preemptDisableIp = null;
}

/** spin_lock(): preempt_disable() then acquire (include/linux/spinlock_api_smp.h). */
export function spinLock(ctx: ExecContext, name: string): void {
  preemptDisable(ctx);
  acquire(ctx, name);
}

export function spinUnlock(ctx: ExecContext, name: string): void {
  release(ctx, name);
  preemptEnable(ctx);
}

/** srcu_read_lock(), down_read_trylock(), lock_map_acquire(): lockdep-visible, preempt_count untouched. */
export function lockAcquire(ctx: ExecContext, name: string): void {
  acquire(ctx, name);
}

export function lockRelease(ctx: ExecContext, name: string): void {
  release(ctx, name);
}

/** non_block_start(): current->non_block_count++ (include/linux/kernel.h, DEBUG_ATOMIC_SLEEP). */
export function nonBlockStart(ctx: ExecContext): void {
  ctx.nonBlockCount++;
}

/** non_block_end(): WARN_ON(current->non_block_count-- == 0). */
export function nonBlockEnd(ctx: ExecContext): void {
  if (ctx.nonBlockCount === 0) throw new Error('non_block_end() without non_block_start()');
  ctx.nonBlockCount--;
}

/** Lock class names as lockdep prints them at 5.8. */
export const LOCK = {
  mmapLock: '&mm->mmap_lock',
  mmuNotifierMap: 'mmu_notifier_invalidate_range_start',
  mmuNotifierSrcu: 'srcu',
  kvmSrcu: '&kvm->srcu',
  // spin_lock_init(&kvm->mmu_lock) names the class by its stringified argument at 5.8
  // (include/linux/spinlock.h: `# define spin_lock_init(lock)` with `#lock`)
  kvmMmuLock: '&kvm->mmu_lock',
  oomLock: 'oom_lock',
} as const;
