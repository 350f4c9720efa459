/** The mm component's state: tasks, their mm_structs, VMAs and notifier subscriptions. Plain data. */
import type { Intervals } from '../lib/interval-set.js';
import type { NonBlockableBehaviour } from '../model/scenario.js';

export interface VmaState {
  start: number;
  end: number;
  anon: boolean;
  shared: boolean;
  locked: boolean;
  hugetlb: boolean;
  pfnmap: boolean;
}

/** A classic subscriber on mm->notifier_subscriptions->list (an hlist; newest first). */
export type ClassicSubscription =
  | { kind: 'kvm'; vm: string }
  | {
      kind: 'userptr';
      id: number;
      nonBlockable: NonBlockableBehaviour;
      /** the userptr object's range; [0, 2^64) when it covers everything */
      start: number;
      end: number;
    };

/** An mmu_interval_notifier in the mm's interval tree. */
export interface IntervalSubscription {
  id: number;
  start: number;
  end: number;
  nonBlockable: NonBlockableBehaviour;
}

export interface MmFlags {
  /** MMF_OOM_VICTIM: set by mark_oom_victim */
  oomVictim: boolean;
  /** MMF_OOM_SKIP: the OOM killer and reaper are done with this mm */
  oomSkip: boolean;
  /** MMF_OOM_REAP_QUEUED: wake_oom_reaper already queued it */
  oomReapQueued: boolean;
  /** MMF_UNSTABLE: the reaper has started tearing it down */
  unstable: boolean;
}

export interface MmStruct {
  vmas: VmaState[];
  /** host pages present (rss), as byte ranges */
  resident: Intervals;
  /** ranges whose host page tables exist (freed by free_pgtables on munmap and exit) */
  tables: Intervals;
  flags: MmFlags;
  /** mmap_lock held for writing by a task outside any modelled chain (hold-mmap-lock) */
  mmapLockWriter: string | null;
  /** mm->notifier_subscriptions allocated (stays so once the first subscriber registered) */
  hasNotifiers: boolean;
  hlist: ClassicSubscription[];
  itree: IntervalSubscription[];
  /** subscriptions->invalidate_seq, odd while an interval invalidation is in progress */
  invalidateSeq: number;
}

export type TaskRunState = 'running' | 'killed' | 'exited';

export interface TaskStruct {
  pid: number;
  comm: string;
  oomScoreAdj: number;
  state: TaskRunState;
  /** tsk_is_oom_victim(): signal->oom_mm is set */
  oomVictim: boolean;
  /** kept after exit_mmap for the record; null once the mm was torn down */
  mm: MmStruct | null;
}

export interface MmComponentState {
  tasks: TaskStruct[];
  nextSubscriptionId: number;
}
