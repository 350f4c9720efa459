/**
 * The validated, normalized scenario the kernel model runs: every default filled in, every size and
 * address a number of bytes, steps sorted by `at` (stable, so steps at the same jiffy keep file order).
 * `libs/scenarios` turns YAML into this; the kernel trusts it.
 */

export const ARCHES = [
  'arm64',
  'x86',
  'mips',
  'powerpc-book3s-hv',
  'powerpc-book3s-pr',
  'powerpc-e500',
] as const;
export type Arch = (typeof ARCHES)[number];

/** A base (5.8, +flags, +fix) plus patches (+pair): variants.ts says what each changes. */
export const KERNEL_VARIANTS = [
  '5.8',
  '5.8+flags',
  '5.8+fix',
  '5.8+pair',
  '5.8+flags+pair',
  '5.8+fix+pair',
] as const;
export type KernelVariant = (typeof KERNEL_VARIANTS)[number];

export interface HostSpec {
  arch: Arch;
  /** bytes of RAM (totalram_pages * PAGE_SIZE); no swap is modelled */
  memory: number;
  /** host PAGE_SIZE in bytes: 4096 everywhere; arm64 also 16384 and 65536; powerpc also 65536 */
  pageSize: number;
  /** number of CPUs the seeded scheduler places tasks on (the "CPU: n" of a splat) */
  cpus: number;
  /** CONFIG_PROVE_LOCKING with debug_locks still on: splats list held locks instead of "lockdep is turned off" */
  lockdep: boolean;
}

export interface VmaSpec {
  start: number;
  size: number;
  /** anonymous memory (MAP_ANONYMOUS); false means file-backed */
  anon: boolean;
  /** MAP_SHARED: with anon this is shmem, otherwise a shared file mapping; the oom_reaper skips both */
  shared: boolean;
  /** VM_LOCKED (mlock); the oom_reaper skips it */
  locked: boolean;
  /** VM_HUGETLB; the oom_reaper skips it */
  hugetlb: boolean;
  /** VM_PFNMAP; the oom_reaper skips it */
  pfnmap: boolean;
}

export interface MemslotSpec {
  /** guest physical address (IPA on arm64) */
  gpa: number;
  /** host virtual address in the owning process (userspace_addr) */
  hva: number;
  size: number;
}

export interface VmSpec {
  name: string;
  /** arm64 stage-2 IPA size in bits (KVM_VM_TYPE_ARM_IPA_SIZE); 40 by default; ignored elsewhere */
  ipaBits: number;
  memslots: MemslotSpec[];
}

export interface ProcessSpec {
  pid: number;
  comm: string;
  oomScoreAdj: number;
  vmas: VmaSpec[];
  vms: VmSpec[];
}

export type NonBlockableBehaviour = 'eagain' | 'ok';

export interface UserptrSubscriberSpec {
  kind: 'userptr';
  pid: number;
  nonBlockable: NonBlockableBehaviour;
  /** the userptr object's range; absent: the object covers the whole address space */
  start?: number;
  size?: number;
}

export interface IntervalSubscriberSpec {
  kind: 'interval';
  pid: number;
  nonBlockable: NonBlockableBehaviour;
  start: number;
  size: number;
}

export type SubscriberSpec = UserptrSubscriberSpec | IntervalSubscriberSpec;

export type Step =
  | { at: number; do: 'fault-in'; vm: string }
  /** a guest access on one of the VM's vCPUs that misses stage 2 (EPT/NPT on x86) at `gpa` */
  | { at: number; do: 'vcpu-fault'; vm: string; gpa: number }
  | { at: number; do: 'allocate'; pid: number; size: number }
  | { at: number; do: 'hold-mmap-lock'; pid: number; for: number }
  | { at: number; do: 'munmap'; pid: number; start: number; size: number }
  | { at: number; do: 'migrate'; pid: number; start: number; size: number }
  | { at: number; do: 'mprotect'; pid: number; start: number; size: number }
  | { at: number; do: 'destroy-vm'; vm: string }
  | { at: number; do: 'exit'; pid: number }
  | { at: number; do: 'oom' };

export type StepKind = Step['do'];

export interface Scenario {
  name: string;
  description: string;
  kernel: KernelVariant;
  seed: number;
  hz: number;
  host: HostSpec;
  processes: ProcessSpec[];
  subscribers: SubscriberSpec[];
  steps: Step[];
}
