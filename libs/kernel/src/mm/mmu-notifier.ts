/**
 * mm/mmu_notifier.c and the static inlines of include/linux/mmu_notifier.h at 5.8 (reference §2):
 * the blocking and non-blocking range_start entry points, the interval tree and the classic hlist
 * walks with non_block_start/end around each classic callback, range_end, release, register and
 * unregister. KVM subscribers are reached with a call to the kvm component of the host arch; the
 * other drivers (i915 userptr, amdgpu-style interval notifiers) are modelled here.
 */
import {
  type ExecContext,
  LOCK,
  frame,
  lockAcquire,
  lockRelease,
  nonBlockEnd,
  nonBlockStart,
} from '../kernel/context.js';
import { KERN_INFO, KERN_WARNING } from '../kernel/printk.js';
import { mightSleep } from '../kernel/sched/might-sleep.js';
import type { Address, Sys } from '../kernel/sys.js';
import {
  EAGAIN,
  MMU_NOTIFIER_RANGE_BLOCKABLE,
  ULONG_MAX,
  type MmuNotifierRange,
  copyRange,
  mmuNotifierRangeBlockable,
  mmuNotifierRangeInit,
} from './range.js';
import type { ClassicSubscription, IntervalSubscription, MmStruct } from './types.js';

const MMU_NOTIFIER_H = 'include/linux/mmu_notifier.h';
/** might_sleep() in mmu_notifier_invalidate_range_start() (include/linux/mmu_notifier.h:442) */
const RANGE_START_MIGHT_SLEEP_LINE = 442;
/** might_sleep() in mmu_notifier_invalidate_range_end(), blockable ranges only (line 470) */
const RANGE_END_MIGHT_SLEEP_LINE = 470;

export function kvmAddress(sys: Sys): Address {
  return `kvm:${sys.host.arch}`;
}

/** mm_has_notifiers(mm) */
function mmHasNotifiers(mm: MmStruct): boolean {
  return mm.hasNotifiers;
}

/** mmu_notifier_invalidate_range_start(range): every caller except the OOM reaper. */
export function mmuNotifierInvalidateRangeStart(
  ctx: ExecContext,
  sys: Sys,
  mm: MmStruct,
  range: MmuNotifierRange,
): void {
  frame(ctx, 'mmu_notifier_invalidate_range_start', () => {
    mightSleep(ctx, sys, MMU_NOTIFIER_H, RANGE_START_MIGHT_SLEEP_LINE);
    lockAcquire(ctx, LOCK.mmuNotifierMap);
    if (mmHasNotifiers(mm)) {
      range.flags |= MMU_NOTIFIER_RANGE_BLOCKABLE;
      // the result is ignored on the blocking path
      mmuNotifierInvalidateRangeStartCore(ctx, sys, mm, range);
    }
    lockRelease(ctx, LOCK.mmuNotifierMap);
  });
}

/**
 * mmu_notifier_invalidate_range_start_nonblock(range): only __oom_reap_task_mm at 5.8. When it
 * fails, `unpaired` gets the subscribers whose _start ran and whose _end is still owed: the
 * caller does not call range_end after a failed start (mm/oom_kill.c:548-551), so unless the
 * start paired them itself (+pair) their ends never come. The kernel keeps no such list; mnsim
 * keeps it to record the imbalance (notifier-imbalance.ts).
 */
export function mmuNotifierInvalidateRangeStartNonblock(
  ctx: ExecContext,
  sys: Sys,
  mm: MmStruct,
  range: MmuNotifierRange,
  unpaired?: ClassicSubscription[],
): number {
  return frame(ctx, 'mmu_notifier_invalidate_range_start_nonblock', () => {
    lockAcquire(ctx, LOCK.mmuNotifierMap);
    let ret = 0;
    if (mmHasNotifiers(mm)) {
      range.flags &= ~MMU_NOTIFIER_RANGE_BLOCKABLE;
      ret = mmuNotifierInvalidateRangeStartCore(ctx, sys, mm, range, unpaired);
    }
    lockRelease(ctx, LOCK.mmuNotifierMap);
    return ret;
  });
}

/** __mmu_notifier_invalidate_range_start(): the interval tree first, then the hlist. */
function mmuNotifierInvalidateRangeStartCore(
  ctx: ExecContext,
  sys: Sys,
  mm: MmStruct,
  range: MmuNotifierRange,
  unpaired?: ClassicSubscription[],
): number {
  return frame(ctx, '__mmu_notifier_invalidate_range_start', () => {
    if (mm.itree.length > 0) {
      const ret = mnItreeInvalidate(ctx, sys, mm, range);
      // -EAGAIN from an interval notifier (mm/mmu_notifier.c:519-522): the classic subscribers
      // are not called at all, so none of them is owed an _end
      if (ret) return ret;
    }
    if (mm.hlist.length > 0) return mnHlistInvalidateRangeStart(ctx, sys, mm, range, unpaired);
    return 0;
  });
}

/** mn_itree_invalidate(): interval callbacks are NOT wrapped in non_block_start/end. */
function mnItreeInvalidate(
  ctx: ExecContext,
  sys: Sys,
  mm: MmStruct,
  range: MmuNotifierRange,
): number {
  return frame(ctx, 'mn_itree_invalidate', () => {
    // mn_itree_inv_start_range(): the sequence goes odd while invalidating
    mm.invalidateSeq |= 1;
    for (const sub of mm.itree) {
      if (sub.end <= range.start || sub.start >= range.end) continue;
      const ok = intervalInvalidate(ctx, sys, sub, range);
      if (!ok) {
        if (mmuNotifierRangeBlockable(range)) {
          // if (WARN_ON(mmu_notifier_range_blockable(range))) continue; (mm/mmu_notifier.c:459)
          warnOn(ctx, sys, 'mm/mmu_notifier.c', 459);
          continue;
        }
        mnItreeInvEnd(mm);
        return -EAGAIN;
      }
    }
    return 0;
  });
}

function mnItreeInvEnd(mm: MmStruct): void {
  if (mm.invalidateSeq & 1) mm.invalidateSeq++;
}

/**
 * An amdgpu/gntdev/RDMA-ODP style interval notifier's ->invalidate(): in a non-blockable range
 * an "eagain" one returns false before taking its lock; otherwise it invalidates and returns true.
 */
function intervalInvalidate(
  ctx: ExecContext,
  sys: Sys,
  sub: IntervalSubscription,
  range: MmuNotifierRange,
): boolean {
  return frame(ctx, 'amdgpu_mn_invalidate_gfx', () => {
    const blockable = mmuNotifierRangeBlockable(range);
    const ok = blockable || sub.nonBlockable === 'ok';
    sys.trace(ctx, 'interval_invalidate', {
      blockable,
      end: Math.min(sub.end, range.end),
      id: sub.id,
      ok,
      start: Math.max(sub.start, range.start),
    });
    return ok;
  });
}

/**
 * mn_hlist_invalidate_range_start() (mm/mmu_notifier.c:475-511): every classic subscriber,
 * newest first; it keeps going after a failure and returns the last error. With +pair
 * (c2655835fd8c), a failure then calls ->invalidate_range_end of every subscriber that has one;
 * without it, those subscribers go to `unpaired`.
 */
function mnHlistInvalidateRangeStart(
  ctx: ExecContext,
  sys: Sys,
  mm: MmStruct,
  range: MmuNotifierRange,
  unpaired: ClassicSubscription[] | undefined,
): number {
  return frame(ctx, 'mn_hlist_invalidate_range_start', () => {
    let ret = 0;
    lockAcquire(ctx, LOCK.mmuNotifierSrcu);
    const blockable = mmuNotifierRangeBlockable(range);
    // every subscriber's start runs, failing or not
    const called = [...mm.hlist];
    for (const sub of called) {
      if (!blockable) nonBlockStart(ctx);
      const r = classicInvalidateRangeStart(ctx, sys, sub, range);
      if (!blockable) nonBlockEnd(ctx);
      if (r) {
        sys.printk(
          ctx,
          KERN_INFO,
          `${classicStartSymbol(sub)} callback failed with ${r} in ${blockable ? '' : 'non-'}blockable context.`,
        );
        // WARN_ON(mmu_notifier_range_blockable(range) || _ret != -EAGAIN) (lines 502-503)
        if (blockable || r !== -EAGAIN) warnOn(ctx, sys, 'mm/mmu_notifier.c', 502);
        // +pair: WARN_ON(ops->invalidate_range_end), line 510 of the patched file
        if (sys.variant.pairsRangeEnd && hasRangeEnd(sub)) {
          warnOn(ctx, sys, 'mm/mmu_notifier.c', 510);
        }
        ret = r;
      }
    }
    if (ret && sys.variant.pairsRangeEnd) {
      // +pair: "any that succeeded start are expecting their end to be called. Do so now." It
      // calls ->invalidate_range_end alone, outside non_block_start/end, still under srcu.
      for (const sub of called) {
        if (!hasRangeEnd(sub)) continue;
        sys.call(ctx, kvmAddress(sys), 'kvm_mmu_notifier_invalidate_range_end', {
          endOnly: true,
          range: copyRange(range),
          vm: sub.vm,
        });
      }
    } else if (ret) {
      for (const sub of called) if (hasRangeEnd(sub)) unpaired?.push(sub);
    }
    lockRelease(ctx, LOCK.mmuNotifierSrcu);
    return ret;
  });
}

/** Whether a subscriber implements ->invalidate_range_end: KVM does, i915's userptr does not. */
function hasRangeEnd(
  sub: ClassicSubscription,
): sub is Extract<ClassicSubscription, { kind: 'kvm' }> {
  return sub.kind === 'kvm';
}

/** %pS of ops->invalidate_range_start (offsets are not modelled). */
function classicStartSymbol(sub: ClassicSubscription): string {
  return sub.kind === 'kvm'
    ? 'kvm_mmu_notifier_invalidate_range_start'
    : 'userptr_mn_invalidate_range_start [i915]';
}

function classicInvalidateRangeStart(
  ctx: ExecContext,
  sys: Sys,
  sub: ClassicSubscription,
  range: MmuNotifierRange,
): number {
  if (sub.kind === 'kvm') {
    return sys.call(ctx, kvmAddress(sys), 'kvm_mmu_notifier_invalidate_range_start', {
      range: copyRange(range),
      vm: sub.vm,
    });
  }
  // i915's userptr_mn_invalidate_range_start: -EAGAIN in a non-blockable range only if a
  // userptr object overlaps it; when blockable it waits for the GPU and unbinds (not modelled).
  return frame(ctx, 'userptr_mn_invalidate_range_start', () => {
    const overlapping = sub.start < range.end && sub.end > range.start;
    const blockable = mmuNotifierRangeBlockable(range);
    const ret = !blockable && overlapping && sub.nonBlockable === 'eagain' ? -EAGAIN : 0;
    sys.trace(ctx, 'userptr_invalidate_range_start', { blockable, id: sub.id, overlapping, ret });
    return ret;
  });
}

/** mmu_notifier_invalidate_range_end(range) */
export function mmuNotifierInvalidateRangeEnd(
  ctx: ExecContext,
  sys: Sys,
  mm: MmStruct,
  range: MmuNotifierRange,
): void {
  frame(ctx, 'mmu_notifier_invalidate_range_end', () => {
    if (mmuNotifierRangeBlockable(range)) {
      mightSleep(ctx, sys, MMU_NOTIFIER_H, RANGE_END_MIGHT_SLEEP_LINE);
    }
    if (!mmHasNotifiers(mm)) return;
    frame(ctx, '__mmu_notifier_invalidate_range_end', () => {
      lockAcquire(ctx, LOCK.mmuNotifierMap);
      if (mm.itree.length > 0) mnItreeInvEnd(mm);
      if (mm.hlist.length > 0) {
        frame(ctx, 'mn_hlist_invalidate_end', () => {
          lockAcquire(ctx, LOCK.mmuNotifierSrcu);
          const blockable = mmuNotifierRangeBlockable(range);
          for (const sub of [...mm.hlist]) {
            // Among the modelled subscribers only KVM has ->invalidate_range and
            // ->invalidate_range_end; one call to the kvm component runs both. The kernel wraps
            // only _end in non_block_start/end; here ->invalidate_range (which sleeps nowhere at
            // 5.8) runs inside the section too, which no check can observe.
            if (!hasRangeEnd(sub)) continue;
            if (!blockable) nonBlockStart(ctx);
            sys.call(ctx, kvmAddress(sys), 'kvm_mmu_notifier_invalidate_range_end', {
              range: copyRange(range),
              vm: sub.vm,
            });
            if (!blockable) nonBlockEnd(ctx);
          }
          lockRelease(ctx, LOCK.mmuNotifierSrcu);
        });
      }
      lockRelease(ctx, LOCK.mmuNotifierMap);
    });
  });
}

/**
 * mmu_notifier_release(mm), from exit_mmap: every interval subscriber gets a blockable
 * MMU_NOTIFY_RELEASE range over everything; every classic subscriber's ->release runs under srcu,
 * then all are unhooked and synchronize_srcu() waits for readers.
 */
export function mmuNotifierRelease(ctx: ExecContext, sys: Sys, pid: number, mm: MmStruct): void {
  if (!mmHasNotifiers(mm)) return;
  frame(ctx, '__mmu_notifier_release', () => {
    if (mm.itree.length > 0) {
      frame(ctx, 'mn_itree_release', () => {
        const range = mmuNotifierRangeInit(
          'MMU_NOTIFY_RELEASE',
          MMU_NOTIFIER_RANGE_BLOCKABLE,
          pid,
          0,
          ULONG_MAX,
        );
        for (const sub of mm.itree) intervalInvalidate(ctx, sys, sub, range);
      });
    }
    if (mm.hlist.length > 0) {
      frame(ctx, 'mn_hlist_release', () => {
        lockAcquire(ctx, LOCK.mmuNotifierSrcu);
        for (const sub of [...mm.hlist]) {
          if (sub.kind === 'kvm') {
            sys.call(ctx, kvmAddress(sys), 'kvm_mmu_notifier_release', { vm: sub.vm });
          }
        }
        // hlist_del_init_rcu() of every subscriber
        mm.hlist = [];
        lockRelease(ctx, LOCK.mmuNotifierSrcu);
        synchronizeSrcu(ctx, sys);
      });
    }
  });
}

/** mmu_notifier_register(): hlist_add_head_rcu, so the newest subscriber is called first. */
export function mmuNotifierRegister(mm: MmStruct, sub: ClassicSubscription): void {
  mm.hasNotifiers = true;
  mm.hlist.unshift(sub);
}

/** mmu_interval_notifier_insert() */
export function mmuIntervalNotifierInsert(mm: MmStruct, sub: IntervalSubscription): void {
  mm.hasNotifiers = true;
  mm.itree.push(sub);
  mm.itree.sort((a, b) => a.start - b.start || a.id - b.id);
}

/**
 * mmu_notifier_unregister(sub, mm), from kvm_destroy_vm(): ->release only if the subscriber is
 * still hashed (exit_mmap's release has not run), then unhook and synchronize_srcu().
 */
export function mmuNotifierUnregister(ctx: ExecContext, sys: Sys, mm: MmStruct, vm: string): void {
  frame(ctx, 'mmu_notifier_unregister', () => {
    const idx = mm.hlist.findIndex((s) => s.kind === 'kvm' && s.vm === vm);
    if (idx >= 0) {
      lockAcquire(ctx, LOCK.mmuNotifierSrcu);
      sys.call(ctx, kvmAddress(sys), 'kvm_mmu_notifier_release', { vm });
      lockRelease(ctx, LOCK.mmuNotifierSrcu);
      mm.hlist.splice(idx, 1);
    }
    sys.trace(ctx, 'mmu_notifier_unregister', { vm, wasHashed: idx >= 0 });
    synchronizeSrcu(ctx, sys);
  });
}

/** synchronize_srcu() sleeps: a might_sleep() check in the caller's context. */
function synchronizeSrcu(ctx: ExecContext, sys: Sys): void {
  // __synchronize_srcu(): might_sleep() at kernel/rcu/srcutree.c:930, after its RCU_LOCKDEP_WARN
  frame(ctx, 'synchronize_srcu', () =>
    frame(ctx, '__synchronize_srcu', () => mightSleep(ctx, sys, 'kernel/rcu/srcutree.c', 930)),
  );
}

/** WARN_ON(): a warning line; the full WARNING splat format is not modelled. */
function warnOn(ctx: ExecContext, sys: Sys, file: string, line: number): void {
  sys.printk(
    ctx,
    KERN_WARNING,
    `WARNING: CPU: ${ctx.cpu} PID: ${ctx.task.pid} at ${file}:${line} ${ctx.stack[ctx.stack.length - 1] ?? ''}`,
  );
}
