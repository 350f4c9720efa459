/** struct mmu_notifier_range and its helpers (include/linux/mmu_notifier.h at 5.8). */

/** enum mmu_notifier_event at 5.8: there is no MMU_NOTIFY_MIGRATE yet (that is 5.9). */
export type MmuNotifierEvent =
  | 'MMU_NOTIFY_UNMAP'
  | 'MMU_NOTIFY_CLEAR'
  | 'MMU_NOTIFY_PROTECTION_VMA'
  | 'MMU_NOTIFY_PROTECTION_PAGE'
  | 'MMU_NOTIFY_SOFT_DIRTY'
  | 'MMU_NOTIFY_RELEASE';

export const MMU_NOTIFIER_RANGE_BLOCKABLE = 1 << 0;

/** ULONG_MAX as an exclusive end: exact as a double, and above every modelled address. */
export const ULONG_MAX = 2 ** 64;

export interface MmuNotifierRange {
  /** owning task of the mm (range->mm) */
  pid: number;
  start: number;
  end: number;
  flags: number;
  event: MmuNotifierEvent;
}

/** mmu_notifier_range_init(range, event, flags, vma, mm, start, end) */
export function mmuNotifierRangeInit(
  event: MmuNotifierEvent,
  flags: number,
  pid: number,
  start: number,
  end: number,
): MmuNotifierRange {
  return { end, event, flags, pid, start };
}

export function mmuNotifierRangeBlockable(range: MmuNotifierRange): boolean {
  return (range.flags & MMU_NOTIFIER_RANGE_BLOCKABLE) !== 0;
}

export const EAGAIN = 11;

/** A copy for a message (no object spread: it is slow on V8 and this runs once per range). */
export function copyRange(r: MmuNotifierRange): MmuNotifierRange {
  return { end: r.end, event: r.event, flags: r.flags, pid: r.pid, start: r.start };
}
