/**
 * kernel/sched/core.c ___might_sleep() with CONFIG_DEBUG_ATOMIC_SLEEP=y (reference §1), and the
 * helpers that call it: might_sleep() and the cond_resched_lock() macro.
 */
import { type ExecContext } from '../context.js';
import { dumpStackLines, symbolOf } from '../dump-stack.js';
import { ipIn, printIpSym } from '../kallsyms.js';
import {
  type LockOwners,
  acquireIp,
  lockdepPrintHeldLocks,
  spinlockTakenIn,
} from '../locking/lockdep.js';
import type { Sys } from '../sys.js';
import { signatureOf } from './violation.js';

/** PREEMPT_LOCK_OFFSET = PREEMPT_DISABLE_OFFSET = 1 with CONFIG_PREEMPT_COUNT */
export const PREEMPT_LOCK_OFFSET = 1;

/**
 * ___might_sleep(file, line, preempt_offset). Records every failing check; prints (and taints)
 * only when the global once-per-HZ limit allows. `system_state` is SYSTEM_RUNNING, no oops is in
 * progress, and no modelled task is the idle task, so those escape hatches never apply.
 * `owners`: whose mm_struct and struct kvm the held locks are, for lockdep's lines.
 */
export function mightSleepCheck(
  ctx: ExecContext,
  sys: Sys,
  file: string,
  line: number,
  preemptOffset: number,
  owners: LockOwners = {},
): void {
  const ok = ctx.preemptCount === preemptOffset && !ctx.irqsDisabled && ctx.nonBlockCount === 0;
  if (ok) return;

  const g = ctx.globals;
  const now = ctx.jiffies;
  // if (prev_jiffy && time_before(jiffies, prev_jiffy + HZ)) return;
  const reported = !(g.prevJiffy !== 0 && now < g.prevJiffy + sys.hz);
  const stack = ['___might_sleep', ...[...ctx.stack].reverse()];
  const text = splatLines(ctx, sys, file, line, preemptOffset, stack, owners).join('\n');
  // keys in code-point order: the canonical encoding then needs no sorting (libs/events)
  sys.violation(ctx, {
    comm: ctx.task.comm,
    inAtomic: ctx.preemptCount !== 0 ? 1 : 0,
    irqsDisabled: ctx.irqsDisabled ? 1 : 0,
    jiffies: now,
    nonBlock: ctx.nonBlockCount,
    pid: ctx.task.pid,
    reported,
    signature: signatureOf(stack),
    site: `${file}:${line}`,
    stack,
    text,
  });
  if (reported) {
    // prev_jiffy = jiffies (a report at jiffy 0 leaves the limiter unarmed: reference §1.1 quirk)
    g.prevJiffy = now;
    // add_taint(TAINT_WARN, LOCKDEP_STILL_OK) after dump_stack()
    g.taintWarn = true;
  }
}

function splatLines(
  ctx: ExecContext,
  sys: Sys,
  file: string,
  line: number,
  preemptOffset: number,
  stack: readonly string[],
  owners: LockOwners,
): string[] {
  const lines = [
    `BUG: sleeping function called from invalid context at ${file}:${line}`,
    `in_atomic(): ${ctx.preemptCount !== 0 ? 1 : 0}, irqs_disabled(): ${ctx.irqsDisabled ? 1 : 0}, non_block: ${ctx.nonBlockCount}, pid: ${ctx.task.pid}, name: ${ctx.task.comm}`,
  ];
  // debug_show_held_locks(current)
  if (!sys.host.lockdep) lines.push('INFO: lockdep is turned off.');
  else lines.push(...lockdepPrintHeldLocks(ctx, sys, owners));
  if (ctx.irqsDisabled) lines.push('irq event stamp: 0');
  // CONFIG_DEBUG_PREEMPT: only when preempt_count() != preempt_offset (absent in the OOM case)
  if (ctx.preemptCount !== preemptOffset) {
    // pr_err("Preemption disabled at:"); print_ip_sym(KERN_ERR, preempt_disable_ip)
    // (kernel/sched/core.c:6936-6940): two records, the second not a continuation
    lines.push('Preemption disabled at:');
    lines.push(preemptDisabledAt(ctx, sys));
  }
  lines.push(...dumpStackLines(sys.host.arch, sys.variant, ctx, stack));
  return lines;
}

/**
 * print_ip_sym() of current->preempt_disable_ip: a raw %px address, then %pS. preempt_count_add()
 * records get_lock_parent_ip() when the count leaves 0 (kernel/sched/core.c:3853-3862,
 * include/linux/ftrace.h:814-824): for spin_lock() the return address into the caller of
 * _raw_spin_lock, the very IP lockdep records as that lock's acquire_ip, so both lines name the
 * same address. With no IP recorded the kernel prints "[<0000000000000000>] 0x0".
 */
function preemptDisabledAt(ctx: ExecContext, sys: Sys): string {
  const arch = sys.host.arch;
  const fn = ctx.preemptDisableIp;
  if (fn === null) return printIpSym(arch, null, 0n);
  const lock = spinlockTakenIn(ctx, fn);
  if (lock) {
    const at = acquireIp(ctx, sys, lock);
    return printIpSym(arch, at.symbol, at.ip);
  }
  const symbol = symbolOf(arch, ctx.stack, fn);
  return printIpSym(arch, symbol, ipIn(arch, symbol, 'preempt_disable'));
}

/** might_sleep(): __might_sleep(__FILE__, __LINE__, 0); might_resched() is a no-op without PREEMPT_VOLUNTARY. */
export function mightSleep(ctx: ExecContext, sys: Sys, file: string, line: number): void {
  mightSleepCheck(ctx, sys, file, line, 0);
}

/**
 * cond_resched_lock(lock) (include/linux/sched.h): ___might_sleep(__FILE__, __LINE__,
 * PREEMPT_LOCK_OFFSET) on every call, then __cond_resched_lock(). A macro, so it is not a frame.
 * __cond_resched_lock drops the lock only if a reschedule is due or the lock is contended; one
 * chain runs at a time in mnsim, so neither is, and it returns 0 with the lock held throughout.
 */
export function condReschedLock(
  ctx: ExecContext,
  sys: Sys,
  file: string,
  line: number,
  owners: LockOwners = {},
): number {
  mightSleepCheck(ctx, sys, file, line, PREEMPT_LOCK_OFFSET, owners);
  return 0;
}
