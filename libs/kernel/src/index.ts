/** @mnsim/kernel: the pure, deterministic model of the Linux 5.8 MMU-notifier invalidation path. */
export * from './model/scenario.js';
export * from './variants.js';
export * from './kernel/context.js';
export * from './kernel/printk.js';
export type { Address, Sys, TraceDetail } from './kernel/sys.js';
export type { FindingKind, ViolationRecord } from './kernel/sched/violation.js';
export {
  FINDING_KINDS,
  findingKind,
  findingSignature,
  signatureKind,
  signatureOf,
} from './kernel/sched/violation.js';
export { mightSleepCheck, PREEMPT_LOCK_OFFSET } from './kernel/sched/might-sleep.js';
export type { MmuNotifierRange, MmuNotifierEvent } from './mm/range.js';
export { MMU_NOTIFIER_RANGE_BLOCKABLE, ULONG_MAX } from './mm/range.js';
export type { MmComponentState, MmStruct, TaskStruct } from './mm/types.js';
export { rssCounters, pgtablesBytes } from './mm/mmap.js';
export {
  type OomComponentState,
  type OomTaskInfo,
  oomBadness,
  selectBadProcess,
  MAX_OOM_REAP_RETRIES,
  OOM_REAPER_TASK,
} from './mm/oom-kill.js';
export type { KvmComponentState, KvmVm } from './virt/kvm/types.js';
export { stage2Geometry, stage2Checks, stage2PgdAddrEnd } from './arch/arm64/kvm/mmu.js';
export type { CallMap, CallName, CallArgs, CallRet } from './run/calls.js';
export { type ComponentStates, componentOf, dispatch, initialStates } from './run/components.js';
export {
  RunScheduler,
  mmapLockNeededBy,
  type Stimulus,
  type ArmedTimer,
  type SchedulerState,
} from './run/scheduler.js';
export * from './lib/interval-set.js';
export { type PrngState, seedPrng, nextU32, nextInt } from './run/prng.js';
