/**
 * mm/oom_kill.c at 5.8 (reference §3). Two components share this file, split by whose state a
 * function touches, as the design splits the workers:
 * - the oom component (oom-killer worker): out_of_memory(), select_bad_process(), oom_badness(),
 *   the kill messages, wake_oom_reaper() and the oom_reaper kthread with its retries;
 * - the mm component (mmu-notifier worker): the per-task and per-mm parts: the task list as
 *   oom_badness sees it, mark_oom_victim(), oom_reap_task_mm() and __oom_reap_task_mm().
 */
import { type ExecContext, LOCK, frame, lockAcquire, lockRelease } from '../kernel/context.js';
import { dumpStackLines } from '../kernel/dump-stack.js';
import { KERN_ERR, KERN_INFO, KERN_WARNING, kib } from '../kernel/printk.js';
import type { Sys } from '../kernel/sys.js';
import { removeRange } from '../lib/interval-set.js';
import { findTask, liveMm, pgtablesBytes, rssCounters, totalVmBytes } from './mmap.js';
import {
  mmuNotifierInvalidateRangeEnd,
  mmuNotifierInvalidateRangeStartNonblock,
} from './mmu-notifier.js';
import { mmuNotifierRangeInit } from './range.js';
import type { ClassicSubscription, MmComponentState, MmStruct } from './types.js';
import { recordSkippedRangeEnds } from './notifier-imbalance.js';

export const MAX_OOM_REAP_RETRIES = 10;
export const OOM_SCORE_ADJ_MIN = -1000;

/** The oom_reaper kthread as oom_init() creates it; pid 36 as on the machine of the splat. */
export const OOM_REAPER_TASK = { pid: 36, comm: 'oom_reaper', kthread: true } as const;
export const OOM_REAPER_STACK = ['ret_from_fork', 'kthread', 'oom_reaper'] as const;

// =============================================================================================
// mm side

/** What select_bad_process() and dump_tasks() read of one task. */
export interface OomTaskInfo {
  pid: number;
  comm: string;
  oomScoreAdj: number;
  /** oom_unkillable_task(): global init (kthreads are not in the modelled task list) */
  unkillable: boolean;
  /** find_lock_task_mm() finds an mm */
  hasMm: boolean;
  /** tsk_is_oom_victim() */
  victim: boolean;
  /** fatal_signal_pending(): SIGKILLed, not yet exited */
  killed: boolean;
  /** MMF_OOM_SKIP on its mm (signal->oom_mm for a victim) */
  oomSkip: boolean;
  rssPages: number;
  swapents: number;
  pgtablesBytes: number;
  totalVmPages: number;
}

/** for_each_process(), as the OOM killer reads it: creation order. */
export function oomTaskList(state: MmComponentState, pageSize: number): OomTaskInfo[] {
  return state.tasks
    .filter((t) => t.state !== 'exited')
    .map((t) => {
      const mm = t.mm;
      const rss = mm ? rssCounters(mm) : { anon: 0, file: 0, shmem: 0 };
      return {
        pid: t.pid,
        comm: t.comm,
        oomScoreAdj: t.oomScoreAdj,
        unkillable: t.pid === 1,
        hasMm: mm !== null,
        victim: t.oomVictim,
        killed: t.state === 'killed',
        oomSkip: t.mm?.flags.oomSkip ?? false,
        rssPages: (rss.anon + rss.file + rss.shmem) / pageSize,
        swapents: 0,
        pgtablesBytes: mm ? pgtablesBytes(mm, pageSize) : 0,
        totalVmPages: mm ? totalVmBytes(mm) / pageSize : 0,
      };
    });
}

export interface KillInfo {
  pid: number;
  comm: string;
  totalVmKb: number;
  anonKb: number;
  fileKb: number;
  shmemKb: number;
  pgtablesKb: number;
  oomScoreAdj: number;
  /** wake_oom_reaper(): false when MMF_OOM_REAP_QUEUED was already set */
  queued: boolean;
}

/**
 * The mm side of __oom_kill_process(): SIGKILL, mark_oom_victim() (TIF_MEMDIE, signal->oom_mm,
 * MMF_OOM_VICTIM), the counters of the "Killed process" line, and wake_oom_reaper()'s
 * test_and_set_bit(MMF_OOM_REAP_QUEUED).
 */
export function oomKillTask(
  ctx: ExecContext,
  sys: Sys,
  state: MmComponentState,
  pid: number,
  signal: boolean,
): KillInfo {
  const t = findTask(state, pid);
  const mm = t?.mm ?? null;
  if (!t || !mm) throw new Error(`OOM victim ${pid} has no mm`);
  const rss = rssCounters(mm);
  const info = {
    pid: t.pid,
    comm: t.comm,
    totalVmKb: kib(totalVmBytes(mm)),
    anonKb: kib(rss.anon),
    fileKb: kib(rss.file),
    shmemKb: kib(rss.shmem),
    pgtablesKb: kib(pgtablesBytes(mm, sys.host.pageSize)),
    oomScoreAdj: t.oomScoreAdj,
    queued: !mm.flags.oomReapQueued,
  };
  if (signal && t.state === 'running') t.state = 'killed';
  t.oomVictim = true;
  mm.flags.oomVictim = true;
  mm.flags.oomReapQueued = true;
  sys.trace(ctx, 'mark_victim', { pid });
  return info;
}

/**
 * oom_reap_task_mm() (inlined into oom_reap_task in the 5.8 arm64 build): the mmap_lock
 * trylock, the MMF_OOM_SKIP shortcut, __oom_reap_task_mm() and the "reaped process" line.
 */
export function oomReapTaskMm(
  ctx: ExecContext,
  sys: Sys,
  state: MmComponentState,
  pid: number,
): boolean {
  return frame(ctx, 'oom_reap_task_mm', () => {
    const t = findTask(state, pid);
    const mm = t?.mm;
    if (!t || !mm) return true;
    // mmap_read_trylock(mm)
    if (mm.mmapLockWriter !== null) {
      sys.trace(ctx, 'skip_task_reaping', {
        holder: mm.mmapLockWriter,
        pid,
        reason: 'mmap_read_trylock',
      });
      return false;
    }
    lockAcquire(ctx, LOCK.mmapLock);
    let ret: boolean;
    if (mm.flags.oomSkip) {
      // MMF_OOM_SKIP: exit_mmap already did the work; "nothing to do" counts as success
      sys.trace(ctx, 'skip_task_reaping', { holder: null, pid, reason: 'MMF_OOM_SKIP' });
      ret = true;
    } else {
      sys.trace(ctx, 'start_task_reaping', { pid });
      ret = oomReapVmas(ctx, sys, mm, pid);
      if (ret) {
        const rss = rssCounters(mm);
        sys.printk(
          ctx,
          KERN_INFO,
          `oom_reaper: reaped process ${pid} (${t.comm}), now anon-rss:${kib(rss.anon)}kB, file-rss:${kib(rss.file)}kB, shmem-rss:${kib(rss.shmem)}kB`,
        );
      }
      sys.trace(ctx, 'finish_task_reaping', { pid });
    }
    lockRelease(ctx, LOCK.mmapLock);
    return ret;
  });
}

/**
 * __oom_reap_task_mm(mm): every reapable VMA gets a non-blocking MMU_NOTIFY_UNMAP range; a VMA
 * whose range_start fails is left untouched and gets no range_end (5.8 has no pairing: the
 * subscribers whose start ran are owed it, a notifier-imbalance finding each).
 * Also called from exit_mmap() for an OOM victim, in the exiting task's context.
 */
export function oomReapVmas(ctx: ExecContext, sys: Sys, mm: MmStruct, pid: number): boolean {
  return frame(ctx, '__oom_reap_task_mm', () => {
    mm.flags.unstable = true;
    let ret = true;
    for (const vma of [...mm.vmas]) {
      // !can_madv_lru_vma(vma): VM_LOCKED | VM_HUGETLB | VM_PFNMAP
      if (vma.locked || vma.hugetlb || vma.pfnmap) continue;
      // vma_is_anonymous(vma) || !(vm_flags & VM_SHARED): shared anon is shmem, not anonymous
      if (vma.shared) continue;
      const range = mmuNotifierRangeInit('MMU_NOTIFY_UNMAP', 0, pid, vma.start, vma.end);
      const unpaired: ClassicSubscription[] = [];
      if (mmuNotifierInvalidateRangeStartNonblock(ctx, sys, mm, range, unpaired)) {
        // no range_end for this VMA (mm/oom_kill.c:548-551): owed to every subscriber in
        // `unpaired`, whose start ran
        recordSkippedRangeEnds(ctx, sys, range, unpaired);
        ret = false;
        continue;
      }
      frame(ctx, 'unmap_page_range', () => removeRange(mm.resident, vma.start, vma.end));
      mmuNotifierInvalidateRangeEnd(ctx, sys, mm, range);
    }
    return ret;
  });
}

/**
 * The end of oom_reap_task(): "unable to reap" when every try failed and exit_mmap did not
 * finish meanwhile; then MMF_OOM_SKIP, always, so the OOM killer can pick another victim.
 */
export function oomReapFinish(
  state: MmComponentState,
  pid: number,
  exhausted: boolean,
): { unable: boolean; comm: string } {
  const t = findTask(state, pid);
  const mm = t?.mm;
  if (!t || !mm) return { unable: false, comm: '' };
  const unable = exhausted && !mm.flags.oomSkip;
  mm.flags.oomSkip = true;
  return { unable, comm: t.comm };
}

export { liveMm };

// =============================================================================================
// oom side

export interface OomComponentState {
  /** oom_reaper_list: a LIFO, head first */
  reaperList: number[];
  /** the victim oom_reap_task() is working on, with the tries made so far */
  current: { pid: number; attempts: number } | null;
  /** idle: waiting on oom_reaper_wait; sleeping: schedule_timeout_idle(HZ/10) between tries */
  reaper: 'idle' | 'sleeping';
  /** panic("System is deadlocked on memory"): nothing runs afterwards */
  panicked: boolean;
}

export function newOomState(): OomComponentState {
  return { reaperList: [], current: null, reaper: 'idle', panicked: false };
}

export interface OomControl {
  gfpMask: number;
  gfpName: string;
  order: number;
  /** is_sysrq_oom(): order == -1 */
  sysrq: boolean;
}

export const GFP_HIGHUSER_MOVABLE: Pick<OomControl, 'gfpMask' | 'gfpName'> = {
  gfpMask: 0x100cca,
  gfpName: 'GFP_HIGHUSER_MOVABLE',
};
export const GFP_KERNEL: Pick<OomControl, 'gfpMask' | 'gfpName'> = {
  gfpMask: 0xcc0,
  gfpName: 'GFP_KERNEL',
};

/**
 * oom_badness() at 5.8 (before 9066e5cfb73c): rss + swap entries + page-table pages, plus
 * oom_score_adj scaled by totalpages/1000 (integer division first); an eligible task scores >= 1.
 */
export function oomBadness(t: OomTaskInfo, totalPages: number, pageSize: number): number {
  if (t.unkillable || !t.hasMm) return 0;
  if (t.oomScoreAdj === OOM_SCORE_ADJ_MIN || t.oomSkip) return 0;
  let points = t.rssPages + t.swapents + Math.floor(t.pgtablesBytes / pageSize);
  points += t.oomScoreAdj * Math.floor(totalPages / 1000);
  return points > 0 ? points : 1;
}

/**
 * select_bad_process(): highest badness wins, ties go to the later-scanned task; an earlier
 * victim still alive without MMF_OOM_SKIP aborts the selection (-1) -- except for a sysrq OOM,
 * which oom_evaluate_task() lets evaluate victims like any task
 * (`if (!is_sysrq_oom(oc) && tsk_is_oom_victim(task))`).
 */
export function selectBadProcess(
  tasks: readonly OomTaskInfo[],
  totalPages: number,
  pageSize: number,
  sysrq = false,
): OomTaskInfo | null | -1 {
  let chosen: OomTaskInfo | null = null;
  let chosenPoints = 0;
  for (const t of tasks) {
    if (t.unkillable) continue;
    if (!sysrq && t.victim) {
      if (t.oomSkip) continue;
      return -1;
    }
    const points = oomBadness(t, totalPages, pageSize);
    if (points === 0 || points < chosenPoints) continue;
    chosen = t;
    chosenPoints = points;
  }
  return chosen;
}

/** out_of_memory(oc) for a global OOM (reference §3.1). Returns whether progress was made. */
export function outOfMemory(
  ctx: ExecContext,
  sys: Sys,
  st: OomComponentState,
  oc: OomControl,
): boolean {
  return frame(ctx, 'out_of_memory', () => {
    const pageSize = sys.host.pageSize;
    const tasks = sys.call(ctx, 'mm', 'oom_task_list', {});
    const current = tasks.find((t) => t.pid === ctx.task.pid);
    // task_will_free_mem(current): a dying task gets the reserves and the reaper
    if (current?.killed) {
      const kill = sys.call(ctx, 'mm', 'mark_oom_victim', { pid: current.pid, signal: false });
      wakeOomReaper(ctx, sys, st, kill);
      return true;
    }
    const totalPages = Math.floor(sys.host.memory / pageSize);
    const chosen = selectBadProcess(tasks, totalPages, pageSize, oc.sysrq);
    if (chosen === null) {
      dumpHeader(ctx, sys, oc, tasks, null);
      sys.printk(ctx, KERN_WARNING, 'Out of memory and no killable processes...');
      if (!oc.sysrq) {
        sys.printk(ctx, 0, 'Kernel panic - not syncing: System is deadlocked on memory');
        st.panicked = true;
        ctx.globals.panicked = true;
      }
      return false;
    }
    if (chosen === -1) {
      sys.trace(ctx, 'select_bad_process', { aborted: true });
      return true;
    }
    oomKillProcess(ctx, sys, st, oc, tasks, chosen);
    return true;
  });
}

function oomKillProcess(
  ctx: ExecContext,
  sys: Sys,
  st: OomComponentState,
  oc: OomControl,
  tasks: readonly OomTaskInfo[],
  victim: OomTaskInfo,
): void {
  frame(ctx, 'oom_kill_process', () => {
    // task_will_free_mem(victim): already dying (SIGKILLed and its mm not MMF_OOM_SKIP): no
    // message, no second kill, just the reserves and the reaper (queued once per mm)
    if (victim.killed && !victim.oomSkip) {
      const k = sys.call(ctx, 'mm', 'mark_oom_victim', { pid: victim.pid, signal: false });
      wakeOomReaper(ctx, sys, st, k);
      return;
    }
    dumpHeader(ctx, sys, oc, tasks, victim);
    frame(ctx, '__oom_kill_process', () => {
      const k = sys.call(ctx, 'mm', 'mark_oom_victim', { pid: victim.pid, signal: true });
      sys.printk(
        ctx,
        KERN_ERR,
        `Out of memory: Killed process ${k.pid} (${k.comm}) total-vm:${k.totalVmKb}kB, anon-rss:${k.anonKb}kB, file-rss:${k.fileKb}kB, shmem-rss:${k.shmemKb}kB, UID:0 pgtables:${k.pgtablesKb}kB oom_score_adj:${k.oomScoreAdj}`,
      );
      wakeOomReaper(ctx, sys, st, k);
    });
  });
}

/**
 * dump_header() (mm/oom_kill.c:453-473): the "invoked oom-killer" line, dump_stack(),
 * dump_tasks() and the summary; 5.8 prints cpuset and mems_allowed only inside the summary line.
 */
function dumpHeader(
  ctx: ExecContext,
  sys: Sys,
  oc: OomControl,
  tasks: readonly OomTaskInfo[],
  victim: OomTaskInfo | null,
): void {
  frame(ctx, 'dump_header', () => {
    const adj = tasks.find((t) => t.pid === ctx.task.pid)?.oomScoreAdj ?? 0;
    sys.printk(
      ctx,
      KERN_WARNING,
      `${ctx.task.comm} invoked oom-killer: gfp_mask=0x${oc.gfpMask.toString(16)}(${oc.gfpName}), order=${oc.order}, oom_score_adj=${adj}`,
    );
    const stack = ['dump_stack', ...[...ctx.stack].reverse()];
    for (const line of dumpStackLines(sys.host.arch, sys.variant, ctx, stack.slice(1))) {
      sys.printk(ctx, KERN_WARNING, line);
    }
    // show_mem() is not modelled
    sys.printk(ctx, KERN_INFO, 'Tasks state (memory values in pages):');
    sys.printk(
      ctx,
      KERN_INFO,
      '[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name',
    );
    for (const t of tasks) {
      if (t.unkillable || !t.hasMm) continue;
      sys.printk(
        ctx,
        KERN_INFO,
        `[${pad(t.pid, 7)}] ${pad(0, 5)} ${pad(t.pid, 5)} ${pad(t.totalVmPages, 8)} ${pad(t.rssPages, 8)} ${pad(t.pgtablesBytes, 8)} ${pad(t.swapents, 8)}         ${pad(t.oomScoreAdj, 5)} ${t.comm}`,
      );
    }
    if (victim) {
      sys.printk(
        ctx,
        KERN_INFO,
        `oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/,task=${victim.comm},pid=${victim.pid},uid=0`,
      );
    }
  });
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, ' ');
}

/**
 * wake_oom_reaper(tsk): once per mm (MMF_OOM_REAP_QUEUED), push onto the head of the LIFO and
 * wake the reaper. At 5.8 there is no delay: a reaper idle on oom_reaper_wait runs in this
 * jiffy; one sleeping between tries of another victim is not on that waitqueue and finds the
 * list when it is done.
 */
function wakeOomReaper(ctx: ExecContext, sys: Sys, st: OomComponentState, kill: KillInfo): void {
  frame(ctx, 'wake_oom_reaper', () => {
    if (!kill.queued) return;
    st.reaperList.unshift(kill.pid);
    sys.trace(ctx, 'wake_reaper', { pid: kill.pid });
    if (st.reaper === 'idle' && st.current === null) {
      sys.arm(ctx, ctx.jiffies, 'oom', 'oom_reaper_run', {});
    }
  });
}

/**
 * The oom_reaper kthread, from one wake-up to its next sleep: oom_reap_task() tries
 * oom_reap_task_mm() up to MAX_OOM_REAP_RETRIES times, sleeping HZ/10 after every failed try
 * (the tenth included); then it marks the mm MMF_OOM_SKIP and takes the next victim.
 */
export function oomReaperRun(ctx: ExecContext, sys: Sys, st: OomComponentState): void {
  while (true) {
    if (st.current === null) {
      const pid = st.reaperList.shift();
      if (pid === undefined) {
        st.reaper = 'idle';
        return;
      }
      st.current = { pid, attempts: 0 };
    }
    const cur = st.current;
    const retry = frame(ctx, 'oom_reap_task', () => {
      if (cur.attempts < MAX_OOM_REAP_RETRIES) {
        cur.attempts++;
        const ok = sys.call(ctx, 'mm', 'oom_reap_task_mm', { pid: cur.pid });
        if (!ok) {
          // schedule_timeout_idle(HZ/10)
          st.reaper = 'sleeping';
          sys.arm(ctx, ctx.jiffies + Math.floor(sys.hz / 10), 'oom', 'oom_reaper_run', {});
          return true;
        }
        oomReapTaskDone(ctx, sys, cur.pid, false);
      } else {
        oomReapTaskDone(ctx, sys, cur.pid, true);
      }
      return false;
    });
    if (retry) return;
    st.current = null;
  }
}

function oomReapTaskDone(ctx: ExecContext, sys: Sys, pid: number, exhausted: boolean): void {
  const done = sys.call(ctx, 'mm', 'oom_reap_finish', { pid, exhausted });
  if (done.unable) {
    sys.printk(ctx, KERN_INFO, `oom_reaper: unable to reap pid:${pid} (${done.comm})`);
    // sched_show_task() is not modelled; debug_show_all_locks() with lockdep off:
    if (!sys.host.lockdep) sys.printk(ctx, KERN_WARNING, 'INFO: lockdep is turned off.');
    else sys.printk(ctx, KERN_WARNING, 'Showing all locks held in the system:');
  }
}

/** sysrq-f: moom_callback() runs out_of_memory() with order -1 from a kworker. */
export function moomCallback(ctx: ExecContext, sys: Sys, st: OomComponentState): void {
  frame(ctx, 'moom_callback', () => {
    const ok = outOfMemory(ctx, sys, st, { ...GFP_KERNEL, order: -1, sysrq: true });
    if (!ok) sys.printk(ctx, KERN_INFO, 'OOM request ignored. No task eligible');
  });
}
