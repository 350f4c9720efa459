/**
 * Bounds on a scenario. Some are the kernel's (pid_max, KVM_USER_MEM_SLOTS, the 48-bit user address
 * space); the others keep a run's size in check, so that a bad file is refused with a reason instead
 * of exhausting memory.
 */
export const LIMITS = {
  /** below this, pids belong to kernel threads in mnsim (the oom_reaper is pid 36) */
  minUserPid: 100,
  /** PID_MAX_LIMIT on 64-bit */
  maxPid: 4_194_304,
  /** TASK_SIZE with 48-bit VAs: every VMA and every range ends at or below it */
  userAddressSpace: 2 ** 48,
  minMemory: 16 * 1024 ** 2,
  maxMemory: 16 * 1024 ** 4,
  minCpus: 1,
  maxCpus: 256,
  maxProcesses: 64,
  maxVmasPerProcess: 1024,
  maxVmsPerProcess: 8,
  /** KVM_USER_MEM_SLOTS (arm64 and x86 at 5.8) */
  maxMemslotsPerVm: 509,
  maxSubscribers: 64,
  maxSteps: 100_000,
  /**
   * `at` and `for` of a step, in jiffies (2^30 - 1: about 49 days at HZ 250). A lock held `for`
   * from `at` ends at their sum, and every event's jiffy must fit the store's 32-bit column: a
   * hold of 2^31 - 6 jiffies from jiffy 236 ended past it, and Postgres refused the run's events
   */
  maxJiffies: 2 ** 30 - 1,
  maxCommLength: 64,
  maxNameLength: 64,
  maxDescriptionLength: 4096,
  minOomScoreAdj: -1000,
  maxOomScoreAdj: 1000,
  /** KVM_PHYS_SHIFT, the IPA size of a VM that does not ask for one */
  defaultIpaBits: 40,
} as const;

export const HZ_VALUES = [100, 250, 300, 1000] as const;

export const KiB = 1024;

/**
 * Host page sizes each architecture's KVM can run with (CONFIG_ARM64_{4K,16K,64K}_PAGES,
 * CONFIG_PPC_{4K,64K}_PAGES on book3s); x86, mips and e500 use 4KiB.
 */
export const PAGE_SIZES: Readonly<Record<string, readonly number[]>> = {
  arm64: [4 * KiB, 16 * KiB, 64 * KiB],
  x86: [4 * KiB],
  mips: [4 * KiB],
  'powerpc-book3s-hv': [4 * KiB, 64 * KiB],
  'powerpc-book3s-pr': [4 * KiB, 64 * KiB],
  'powerpc-e500': [4 * KiB],
};

/**
 * arm64 IPA sizes a VM may ask for (KVM_VM_TYPE_ARM_IPA_SIZE), by host page size: from 32 bits up
 * to 48, or 52 with 64KiB pages (LPA).
 */
export function ipaBitsRange(pageSize: number): { min: number; max: number } {
  return { min: 32, max: pageSize === 64 * KiB ? 52 : 48 };
}
