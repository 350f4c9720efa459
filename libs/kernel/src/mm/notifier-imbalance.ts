/**
 * The `notifier-imbalance` finding: a subscriber's ->invalidate_range_start ran and its caller
 * skipped the matching ->invalidate_range_end. In 5.8 the only non-blocking caller,
 * __oom_reap_task_mm, does `continue` when mmu_notifier_invalidate_range_start_nonblock() fails
 * (mm/oom_kill.c:548-551), yet mn_hlist_invalidate_range_start had called every subscriber
 * (mm/mmu_notifier.c:484-507). For KVM that leaves kvm->mmu_notifier_count raised for good
 * (virt/kvm/kvm_main.c: _start raises it, only _end lowers it), and every later stage-2 fault of
 * the VM retries forever: the guest livelocks. c2655835fd8c (+pair) pairs them inside the start.
 * The kernel prints nothing, so the finding is recorded unreported, with mnsim's own account.
 */
import { type ExecContext } from '../kernel/context.js';
import type { Sys } from '../kernel/sys.js';
import { silentFinding } from '../kernel/sched/violation.js';
import { type MmuNotifierRange, mmuNotifierRangeBlockable } from './range.js';
import type { ClassicSubscription } from './types.js';

/** Where __oom_reap_task_mm skips range_end: the `continue;` after a failed start. */
const SKIPPED_END_SITE = 'mm/oom_kill.c:551';

const hex = (n: number): string => `0x${n.toString(16)}`;

/** The symbol of the _end a subscriber is owed (only KVM implements one among the modelled). */
function endSymbol(sub: ClassicSubscription): string {
  return sub.kind === 'kvm' ? 'kvm_mmu_notifier_invalidate_range_end' : 'invalidate_range_end';
}

function owner(sub: ClassicSubscription): string {
  return sub.kind === 'kvm' ? `vm ${sub.vm}` : `userptr ${sub.id}`;
}

/** Records one finding per subscriber whose _end the caller in `ctx` skips for `range`. */
export function recordSkippedRangeEnds(
  ctx: ExecContext,
  sys: Sys,
  range: MmuNotifierRange,
  unpaired: readonly ClassicSubscription[],
): void {
  const caller = ctx.stack[ctx.stack.length - 1] ?? '?';
  for (const sub of unpaired) {
    sys.violation(
      ctx,
      silentFinding(
        ctx,
        'notifier-imbalance',
        `${endSymbol(sub)} skipped in ${caller}`,
        SKIPPED_END_SITE,
        [
          `${owner(sub)}: invalidate_range_start ran for [${hex(range.start)}-${hex(range.end)}) ` +
            `(${range.event}, ${mmuNotifierRangeBlockable(range) ? '' : 'non-'}blockable) of pid ${range.pid}; ` +
            'its invalidate_range_end will not come',
          'the kernel prints nothing here; c2655835fd8c pairs range_end with range_start',
        ],
      ),
    );
  }
}
