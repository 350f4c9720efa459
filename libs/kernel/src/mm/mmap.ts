/**
 * The mm component's own operations (mm/mmap.c, mm/mprotect.c, mm/migrate.c, mm/memory.c at
 * 5.8): process creation from the scenario, page population (faults, get_user_pages), munmap,
 * mprotect, migrate_vma and exit_mmap, each taking the notifier path the kernel takes. Resident
 * memory and page tables are byte ranges, never per-page structures.
 */
import { type ExecContext, LOCK, frame, lockAcquire, lockRelease } from '../kernel/context.js';
import type { Sys } from '../kernel/sys.js';
import {
  addRange,
  overlapBytes,
  overlaps,
  regionsTouched,
  removeRange,
  totalBytes,
} from '../lib/interval-set.js';
import type { ProcessSpec, SubscriberSpec } from '../model/scenario.js';
import {
  mmuIntervalNotifierInsert,
  mmuNotifierInvalidateRangeEnd,
  mmuNotifierInvalidateRangeStart,
  mmuNotifierRegister,
  mmuNotifierRelease,
} from './mmu-notifier.js';
import { oomReapVmas } from './oom-kill.js';
import { ULONG_MAX, mmuNotifierRangeInit } from './range.js';
import type { MmComponentState, MmStruct, TaskStruct, VmaState } from './types.js';

export const ENOMEM = 12;
export const EINVAL = 22;
export const ESRCH = 3;
export const EINTR = 4;

export function newMm(): MmStruct {
  return {
    vmas: [],
    resident: [],
    tables: [],
    flags: { oomVictim: false, oomSkip: false, oomReapQueued: false, unstable: false },
    mmapLockWriter: null,
    hasNotifiers: false,
    hlist: [],
    itree: [],
    invalidateSeq: 2,
  };
}

/** fork+exec+mmap of every scenario process, done before the first step. */
export function mmBoot(processes: readonly ProcessSpec[]): MmComponentState {
  const tasks: TaskStruct[] = processes.map((p) => {
    const mm = newMm();
    mm.vmas = p.vmas
      .map((v) => ({
        start: v.start,
        end: v.start + v.size,
        anon: v.anon,
        shared: v.shared,
        locked: v.locked,
        hugetlb: v.hugetlb,
        pfnmap: v.pfnmap,
      }))
      .sort((a, b) => a.start - b.start);
    return {
      pid: p.pid,
      comm: p.comm.slice(0, 15),
      oomScoreAdj: p.oomScoreAdj,
      state: 'running',
      oomVictim: false,
      mm,
    };
  });
  return { tasks, nextSubscriptionId: 1 };
}

export function findTask(state: MmComponentState, pid: number): TaskStruct | undefined {
  return state.tasks.find((t) => t.pid === pid);
}

/** The mm of a live task, or null (exited, or never existed). */
export function liveMm(state: MmComponentState, pid: number): MmStruct | null {
  const t = findTask(state, pid);
  return t && t.state !== 'exited' ? t.mm : null;
}

/** Registration of the non-KVM drivers' notifiers (i915 userptr, interval notifiers). */
export function registerDrivers(state: MmComponentState, subs: readonly SubscriberSpec[]): void {
  for (const s of subs) {
    const mm = liveMm(state, s.pid);
    if (!mm) continue;
    const id = state.nextSubscriptionId++;
    if (s.kind === 'userptr') {
      const start = s.start ?? 0;
      const end = s.start !== undefined && s.size !== undefined ? s.start + s.size : ULONG_MAX;
      mmuNotifierRegister(mm, { kind: 'userptr', id, nonBlockable: s.nonBlockable, start, end });
    } else {
      mmuIntervalNotifierInsert(mm, {
        id,
        start: s.start,
        end: s.start + s.size,
        nonBlockable: s.nonBlockable,
      });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Counters

export interface RssCounters {
  anon: number;
  file: number;
  shmem: number;
}

/** get_mm_counter() for MM_ANONPAGES, MM_FILEPAGES, MM_SHMEMPAGES, in bytes. */
export function rssCounters(mm: MmStruct): RssCounters {
  const rss = { anon: 0, file: 0, shmem: 0 };
  for (const v of mm.vmas) {
    // hugetlb pages and PFN maps are not accounted in rss
    if (v.hugetlb || v.pfnmap) continue;
    const bytes = overlapBytes(mm.resident, v.start, v.end);
    if (!v.anon) rss.file += bytes;
    else if (v.shared) rss.shmem += bytes;
    else rss.anon += bytes;
  }
  return rss;
}

export function rssBytes(mm: MmStruct): number {
  const r = rssCounters(mm);
  return r.anon + r.file + r.shmem;
}

/** Host page-table geometry for a 48-bit user VA with this page size. */
function hostTableSizes(pageSize: number): {
  pmd: number;
  pud: number;
  pgd: number;
  levels: number;
} {
  const shift = Math.log2(pageSize);
  const bits = shift - 3;
  const levels = Math.floor((48 - 4) / bits);
  return {
    pmd: 2 ** (shift + bits),
    pud: 2 ** (shift + 2 * bits),
    pgd: 2 ** (shift + 3 * bits),
    levels,
  };
}

export function pmdSize(pageSize: number): number {
  return hostTableSizes(pageSize).pmd;
}

export function pudSize(pageSize: number): number {
  return hostTableSizes(pageSize).pud;
}

/** mm_pgtables_bytes(): one table page per PMD/PUD/PGD-entry region that has tables below it. */
export function pgtablesBytes(mm: MmStruct, pageSize: number): number {
  const g = hostTableSizes(pageSize);
  const ptes = regionsTouched(mm.tables, g.pmd);
  const pmds = g.levels >= 3 ? regionsTouched(mm.tables, g.pud) : 0;
  const puds = g.levels >= 4 ? regionsTouched(mm.tables, g.pgd) : 0;
  return (ptes + pmds + puds) * pageSize;
}

export function totalVmBytes(mm: MmStruct): number {
  return mm.vmas.reduce((n, v) => n + (v.end - v.start), 0);
}

export function totalResidentBytes(state: MmComponentState): number {
  let total = 0;
  for (const t of state.tasks) if (t.state !== 'exited' && t.mm) total += totalBytes(t.mm.resident);
  return total;
}

// ---------------------------------------------------------------------------------------------
// Population

/** Makes [start, end) ∩ VMAs resident; returns the bytes newly populated. */
function populate(mm: MmStruct, start: number, end: number): number {
  let added = 0;
  for (const v of mm.vmas) {
    const s = Math.max(start, v.start);
    const e = Math.min(end, v.end);
    if (s >= e) continue;
    added += addRange(mm.resident, s, e);
    addRange(mm.tables, s, e);
  }
  return added;
}

/**
 * get_user_pages() on behalf of a KVM stage-2 fault: the host pages behind a memslot become
 * resident. Returns the bytes of [start, end) that are backed by VMAs (the rest would fail
 * with -EFAULT).
 */
export function getUserPages(
  ctx: ExecContext,
  sys: Sys,
  state: MmComponentState,
  pid: number,
  start: number,
  end: number,
): { populated: number; backed: number } {
  return frame(ctx, 'get_user_pages_unlocked', () => {
    const mm = liveMm(state, pid);
    if (!mm) return { backed: 0, populated: 0 };
    // __get_user_pages(): fatal_signal_pending(current) -> -EINTR. An OOM-killed process's
    // vCPU threads are stuck until its exit: nothing faults back in.
    if (findTask(state, pid)?.state !== 'running') {
      sys.trace(ctx, 'get_user_pages', { end, pid, ret: -EINTR, start });
      return { backed: 0, populated: 0 };
    }
    let backed = 0;
    for (const v of mm.vmas) backed += Math.max(0, Math.min(end, v.end) - Math.max(start, v.start));
    const populated = populate(mm, start, end);
    sys.trace(ctx, 'get_user_pages', { backed, end, pid, populated, start });
    return { backed, populated };
  });
}

/**
 * get_user_page_fast_only() of the page at [start, end), as hva_to_pfn_fast() tries it first
 * (virt/kvm/kvm_main.c): GUP-fast walks the host page tables without mmap_lock and without
 * looking at signals, so a page still mapped resolves even for an OOM-killed process.
 */
export function getUserPageFastOnly(
  ctx: ExecContext,
  sys: Sys,
  state: MmComponentState,
  pid: number,
  start: number,
  end: number,
): boolean {
  return frame(ctx, 'get_user_page_fast_only', () => {
    const mm = liveMm(state, pid);
    const ok = mm !== null && overlapBytes(mm.resident, start, end) === end - start;
    sys.trace(ctx, 'get_user_page_fast_only', { ok, pid, start });
    return ok;
  });
}

/**
 * Anonymous page faults over `size` bytes of the task's private anonymous VMAs, lowest
 * addresses first, while host memory lasts. The shortfall is what __alloc_pages_may_oom would
 * have to find by killing.
 */
export function faultInAnonymous(
  ctx: ExecContext,
  sys: Sys,
  state: MmComponentState,
  pid: number,
  size: number,
): { populated: number; shortfall: number; noSpace: number } {
  const mm = liveMm(state, pid);
  if (!mm) return { populated: 0, shortfall: 0, noSpace: size };
  let want = size;
  let free = Math.max(0, sys.host.memory - totalResidentBytes(state));
  let populated = 0;
  let short = 0;
  for (const v of mm.vmas) {
    if (want === 0) break;
    if (!v.anon || v.shared || v.hugetlb || v.pfnmap) continue;
    // the holes of this VMA, in address order
    let cursor = v.start;
    while (cursor < v.end && want > 0) {
      const holeEnd = nextResidentStart(mm, cursor, v.end);
      if (holeEnd > cursor) {
        const hole = Math.min(holeEnd - cursor, want);
        const fits = Math.min(hole, free);
        if (fits > 0) {
          addRange(mm.resident, cursor, cursor + fits);
          addRange(mm.tables, cursor, cursor + fits);
          populated += fits;
          free -= fits;
        }
        short += hole - fits;
        want -= hole;
        cursor += hole;
      }
      cursor = nextHoleStart(mm, cursor, v.end);
    }
  }
  sys.trace(ctx, 'handle_mm_fault', { noSpace: want, pid, populated, shortfall: short });
  return { populated, shortfall: short, noSpace: want };
}

function nextResidentStart(mm: MmStruct, from: number, limit: number): number {
  const iv = mm.resident;
  for (let j = 0; j < iv.length; j += 2) {
    if (iv[j + 1] <= from) continue;
    return Math.min(Math.max(iv[j], from), limit);
  }
  return limit;
}

function nextHoleStart(mm: MmStruct, from: number, limit: number): number {
  const iv = mm.resident;
  for (let j = 0; j < iv.length; j += 2) {
    if (iv[j] <= from && from < iv[j + 1]) return Math.min(iv[j + 1], limit);
  }
  return from;
}

// ---------------------------------------------------------------------------------------------
// munmap, mprotect, migrate

function withMmapWriteLock<T>(ctx: ExecContext, mm: MmStruct, body: () => T): T {
  if (mm.mmapLockWriter !== null) {
    // the run scheduler defers every step that needs the lock while a hold-mmap-lock is active
    throw new Error(
      `mmap_lock of ${ctx.task.comm}/${ctx.task.pid} is held by ${mm.mmapLockWriter}`,
    );
  }
  lockAcquire(ctx, LOCK.mmapLock);
  try {
    return body();
  } finally {
    lockRelease(ctx, LOCK.mmapLock);
  }
}

/** The VMAs overlapping [start, end) are cut to it: split_vma() at both ends, then detached. */
function detachVmas(mm: MmStruct, start: number, end: number): VmaState[] {
  const kept: VmaState[] = [];
  const detached: VmaState[] = [];
  for (const v of mm.vmas) {
    if (v.end <= start || v.start >= end) {
      kept.push(v);
      continue;
    }
    if (v.start < start) kept.push({ ...v, end: start });
    if (v.end > end) kept.push({ ...v, start: end });
    detached.push({ ...v, start: Math.max(v.start, start), end: Math.min(v.end, end) });
  }
  mm.vmas = kept.sort((a, b) => a.start - b.start);
  return detached;
}

/** munmap(2): __vm_munmap -> __do_munmap -> unmap_region -> unmap_vmas (one UNMAP range). */
export function vmMunmap(
  ctx: ExecContext,
  sys: Sys,
  state: MmComponentState,
  pid: number,
  start: number,
  size: number,
): number {
  const mm = liveMm(state, pid);
  if (!mm) return -ESRCH;
  const end = start + size;
  return frame(ctx, '__vm_munmap', () =>
    withMmapWriteLock(ctx, mm, () =>
      frame(ctx, '__do_munmap', () => {
        const detached = detachVmas(mm, start, end);
        if (detached.length === 0) return 0;
        frame(ctx, 'unmap_region', () => {
          frame(ctx, 'unmap_vmas', () => {
            const range = mmuNotifierRangeInit('MMU_NOTIFY_UNMAP', 0, pid, start, end);
            mmuNotifierInvalidateRangeStart(ctx, sys, mm, range);
            for (const v of detached) removeRange(mm.resident, v.start, v.end);
            mmuNotifierInvalidateRangeEnd(ctx, sys, mm, range);
          });
          // free_pgtables(): the tables under the unmapped range go
          removeRange(mm.tables, start, end);
        });
        sys.trace(ctx, 'munmap', { end, pid, start, vmas: detached.length });
        return 0;
      }),
    ),
  );
}

/**
 * mprotect(2): change_protection() per VMA; change_pmd_range() opens one PROTECTION_VMA range
 * per PUD entry, from the first PMD that has a page table, and only if there is one.
 * Protection bits themselves are not modelled (VMAs are not split by prot).
 */
export function mprotect(
  ctx: ExecContext,
  sys: Sys,
  state: MmComponentState,
  pid: number,
  start: number,
  size: number,
): number {
  const mm = liveMm(state, pid);
  if (!mm) return -ESRCH;
  const end = start + size;
  const pud = pudSize(sys.host.pageSize);
  const pmd = pmdSize(sys.host.pageSize);
  return frame(ctx, 'do_mprotect_pkey', () =>
    withMmapWriteLock(ctx, mm, () => {
      let nstart = start;
      for (const v of mm.vmas) {
        if (v.end <= nstart) continue;
        if (v.start > nstart || nstart >= end) break;
        const s = nstart;
        const e = Math.min(end, v.end);
        frame(ctx, 'mprotect_fixup', () =>
          frame(ctx, 'change_protection', () =>
            frame(ctx, 'change_protection_range', () => {
              for (let a = s; a < e;) {
                const b = Math.min(e, (Math.floor(a / pud) + 1) * pud);
                changePmdRange(ctx, sys, mm, pid, a, b, pmd);
                a = b;
              }
            }),
          ),
        );
        nstart = e;
      }
      return nstart < end ? -ENOMEM : 0;
    }),
  );
}

function changePmdRange(
  ctx: ExecContext,
  sys: Sys,
  mm: MmStruct,
  pid: number,
  a: number,
  b: number,
  pmd: number,
): void {
  frame(ctx, 'change_pud_range', () =>
    frame(ctx, 'change_pmd_range', () => {
      const firstTable = firstCovered(mm.tables, a, b);
      if (firstTable === null) return;
      const rangeStart = Math.max(a, Math.floor(firstTable / pmd) * pmd);
      const range = mmuNotifierRangeInit('MMU_NOTIFY_PROTECTION_VMA', 0, pid, rangeStart, b);
      mmuNotifierInvalidateRangeStart(ctx, sys, mm, range);
      mmuNotifierInvalidateRangeEnd(ctx, sys, mm, range);
    }),
  );
}

/** First covered address of [a, b) in the set, or null. */
function firstCovered(iv: number[], a: number, b: number): number | null {
  for (let j = 0; j < iv.length; j += 2) {
    if (iv[j + 1] <= a) continue;
    if (iv[j] >= b) return null;
    return Math.max(iv[j], a);
  }
  return null;
}

/**
 * A driver migrating [start, end) with migrate_vma_setup()/migrate_vma_pages() (mm/migrate.c at
 * 5.8): migrate_vma_collect() invalidates the whole range with MMU_NOTIFY_CLEAR (5.9 introduced
 * MMU_NOTIFY_MIGRATE); migrate_vma_pages() opens a second CLEAR range from the first page that
 * was not present, if any. The range must lie inside one VMA that is not hugetlb or VM_SPECIAL.
 */
export function migrateVma(
  ctx: ExecContext,
  sys: Sys,
  state: MmComponentState,
  pid: number,
  start: number,
  size: number,
): number {
  const mm = liveMm(state, pid);
  if (!mm) return -ESRCH;
  const end = start + size;
  return frame(ctx, 'migrate_vma_setup', () => {
    const vma = mm.vmas.find((v) => v.start <= start && start < v.end);
    if (!vma || vma.hugetlb || vma.pfnmap || end > vma.end) {
      sys.trace(ctx, 'migrate_vma_setup', { end, pid, ret: -EINVAL, start });
      return -EINVAL;
    }
    lockAcquire(ctx, LOCK.mmapLock);
    frame(ctx, 'migrate_vma_collect', () => {
      const range = mmuNotifierRangeInit('MMU_NOTIFY_CLEAR', 0, pid, start, end);
      mmuNotifierInvalidateRangeStart(ctx, sys, mm, range);
      mmuNotifierInvalidateRangeEnd(ctx, sys, mm, range);
    });
    lockRelease(ctx, LOCK.mmapLock);
    const present = overlapBytes(mm.resident, start, end);
    if (present < end - start) {
      frame(ctx, 'migrate_vma_pages', () => {
        const hole = firstHole(mm.resident, start, end);
        const range = mmuNotifierRangeInit('MMU_NOTIFY_CLEAR', 0, pid, hole, end);
        mmuNotifierInvalidateRangeStart(ctx, sys, mm, range);
        mmuNotifierInvalidateRangeEnd(ctx, sys, mm, range);
      });
    }
    sys.trace(ctx, 'migrate_vma', { end, pid, present, start });
    return 0;
  });
}

function firstHole(iv: number[], a: number, b: number): number {
  let x = a;
  for (let j = 0; j < iv.length; j += 2) {
    if (iv[j + 1] <= x) continue;
    if (iv[j] > x) return x;
    x = iv[j + 1];
    if (x >= b) return b;
  }
  return x;
}

// ---------------------------------------------------------------------------------------------
// mmap_lock held by someone else, and exit

/** A task takes mmap_lock for writing and keeps it (hold-mmap-lock); a timer releases it. */
export function mmapWriteLockHold(
  ctx: ExecContext,
  sys: Sys,
  state: MmComponentState,
  pid: number,
  jiffiesHeld: number,
): number {
  const mm = liveMm(state, pid);
  if (!mm) return -ESRCH;
  if (mm.mmapLockWriter !== null) throw new Error(`mmap_lock of pid ${pid} is already held`);
  mm.mmapLockWriter = `${ctx.task.comm}/${ctx.task.pid}`;
  sys.arm(ctx, ctx.jiffies + jiffiesHeld, 'mm', 'mmap_write_unlock', { pid });
  sys.trace(ctx, 'mmap_write_lock', { pid, until: ctx.jiffies + jiffiesHeld });
  return 0;
}

export function mmapWriteUnlock(
  ctx: ExecContext,
  sys: Sys,
  state: MmComponentState,
  pid: number,
): void {
  const t = findTask(state, pid);
  if (t?.mm) t.mm.mmapLockWriter = null;
  sys.trace(ctx, 'mmap_write_unlock', { pid });
}

/**
 * exit_mmap() at 5.8 (reference §3.2): mmu_notifier_release() first (KVM frees its stage-2
 * here, blockably, and every classic subscriber is unhooked); then, for an OOM victim,
 * __oom_reap_task_mm() in the exiting task's context, MMF_OOM_SKIP, and the write-lock dance;
 * then unmap_vmas() over everything, free_pgtables() and the VMAs.
 */
export function exitMmap(ctx: ExecContext, sys: Sys, state: MmComponentState, pid: number): number {
  const task = findTask(state, pid);
  if (!task || task.state === 'exited' || !task.mm) return -ESRCH;
  const mm = task.mm;
  frame(ctx, 'exit_mm', () =>
    frame(ctx, 'mmput', () =>
      frame(ctx, '__mmput', () =>
        frame(ctx, 'exit_mmap', () => {
          mmuNotifierRelease(ctx, sys, pid, mm);
          if (mm.flags.oomVictim) {
            const reaped = oomReapVmas(ctx, sys, mm, pid);
            sys.trace(ctx, 'exit_mmap_oom_reap', { pid, ret: reaped });
            mm.flags.oomSkip = true;
            // mmap_write_lock(mm); mmap_write_unlock(mm): waits out a reaper holding the read lock
            lockAcquire(ctx, LOCK.mmapLock);
            lockRelease(ctx, LOCK.mmapLock);
          }
          frame(ctx, 'unmap_vmas', () => {
            const range = mmuNotifierRangeInit('MMU_NOTIFY_UNMAP', 0, pid, 0, ULONG_MAX);
            mmuNotifierInvalidateRangeStart(ctx, sys, mm, range);
            mm.resident = [];
            mmuNotifierInvalidateRangeEnd(ctx, sys, mm, range);
          });
          mm.tables = [];
          mm.vmas = [];
        }),
      ),
    ),
  );
  task.state = 'exited';
  sys.trace(ctx, 'exit', { pid });
  return 0;
}

export { overlaps };
