/**
 * kernel/locking/lockdep.c at 5.8: debug_show_held_locks() -> lockdep_print_held_locks() (lines
 * 708-727), one print_lock() per held lock (684-706):
 *
 *   " #%d: " "%px" " (" <class name> "){%s}-{%hd:%hd}" ", at: %pS\n"
 *
 * that is the lockdep_map instance, the class name (__print_lock_name, 641-657), the four usage
 * characters of get_usage_chars() (602-639), the class's wait types printed as
 * `wait_type_outer ?: wait_type_inner` and `wait_type_inner` (print_lock_name, 659-670), and the
 * acquire IP. Usage is the class's history since boot, which mnsim does not track: each class
 * has the string a booted system has by the time the model takes it (see LOCK_CLASSES).
 */
import { type ExecContext, type HeldLock, LOCK } from '../context.js';
import { symbolOf } from '../dump-stack.js';
import { fnv1a, ipIn, kernelLayout, printPointer, printSymbol } from '../kallsyms.js';
import type { Sys } from '../sys.js';

/**
 * The mm_struct and the struct kvm whose locks a chain holds, named the model's way: the mm by
 * its owner's pid, the kvm by its VM's name. A caller that knows them says so; otherwise the
 * mm is current's and the kvm the first VM on it.
 */
export interface LockOwners {
  mm?: number;
  kvm?: string;
}

/**
 * enum lockdep_wait_type (include/linux/lockdep.h:24-38) with PROVE_RAW_LOCK_NESTING=n, its
 * default: LD_WAIT_CONFIG = LD_WAIT_SPIN.
 */
const LD_WAIT_INV = 0;
const LD_WAIT_SPIN = 2;
const LD_WAIT_CONFIG = LD_WAIT_SPIN;
const LD_WAIT_SLEEP = 3;

type Instance =
  /** a statically defined object (its symbol in .data) and the lockdep_map's offset in it */
  | { static: string; offset: number }
  /** a field of a process's mm_struct or of a VM's struct kvm */
  | { in: 'mm' | 'kvm'; offset: number };

interface LockClass {
  /** get_usage_chars(): HARDIRQ, HARDIRQ-read, SOFTIRQ, SOFTIRQ-read */
  usage: string;
  waitInner: number;
  waitOuter: number;
  /** a spinlock: spin_lock() raises preempt_count before lockdep sees it */
  spinlock: boolean;
  instance: Instance;
}

/**
 * The classes the model takes. A char of get_usage_char() is '+' once the class was taken with
 * that irq type enabled (LOCK_ENABLED_*, set by mark_usage() at lockdep.c:3863-3881, for a
 * trylock too), '-' once taken in that irq context, '?' both, '.' neither. The model takes every
 * lock in process context with irqs and softirqs on, so no '-' or '?'. A lock acquired with
 * check=0 marks nothing but LOCK_USED (mark_usage's `if (!check) goto lock_used`, 3837-3838):
 * '....'. The offsets of each lockdep_map inside its object are plausible, not a real layout.
 */
const LOCK_CLASSES: Record<string, LockClass> = {
  // init_rwsem(&mm->mmap_lock) (include/linux/mmap_lock.h:11, kernel/fork.c:1025):
  // __init_rwsem -> lockdep_init_map_wait(..., LD_WAIT_SLEEP) (kernel/locking/rwsem.c:331).
  // Taken for write (mmap, brk, munmap, exit) and for read (page faults' mmap_read_trylock, the
  // reaper's at mm/oom_kill.c:572) with irqs on by every process since boot: {++++}.
  [LOCK.mmapLock]: {
    usage: '++++',
    waitInner: LD_WAIT_SLEEP,
    waitOuter: LD_WAIT_INV,
    spinlock: false,
    instance: { in: 'mm', offset: 0x128 },
  },
  // struct lockdep_map __mmu_notifier_invalidate_range_start_map = { .name = ... }
  // (mm/mmu_notifier.c:26-28): no wait type. lock_map_acquire() is exclusive with check=1
  // (include/linux/lockdep.h:680, 655), in every invalidation since boot: {+.+.}.
  [LOCK.mmuNotifierMap]: {
    usage: '+.+.',
    waitInner: LD_WAIT_INV,
    waitOuter: LD_WAIT_INV,
    spinlock: false,
    instance: { static: '__mmu_notifier_invalidate_range_start_map', offset: 0 },
  },
  // DEFINE_STATIC_SRCU(srcu) (mm/mmu_notifier.c:23): .dep_map = { .name = "srcu" }
  // (include/linux/srcu.h:38). srcu_read_lock() -> rcu_lock_acquire(): lock_acquire(map, 0, 0,
  // 2, 0, NULL, _THIS_IP_), check=0 (include/linux/srcu.h:155, rcupdate.h:239-242): {....}.
  [LOCK.mmuNotifierSrcu]: {
    usage: '....',
    waitInner: LD_WAIT_INV,
    waitOuter: LD_WAIT_INV,
    spinlock: false,
    instance: { static: 'srcu', offset: 0x1c8 },
  },
  // init_srcu_struct(&kvm->srcu) (virt/kvm/kvm_main.c:703): lockdep_init_map(..., 0), no wait
  // type (kernel/rcu/srcutree.c:207); read with check=0 as above: {....}.
  [LOCK.kvmSrcu]: {
    usage: '....',
    waitInner: LD_WAIT_INV,
    waitOuter: LD_WAIT_INV,
    spinlock: false,
    instance: { in: 'kvm', offset: 0x1e48 },
  },
  // spin_lock_init(&kvm->mmu_lock) (kvm_main.c:692): LD_WAIT_CONFIG (include/linux/spinlock.h:
  // 337-338). spin_lock() is exclusive with check=1 (lockdep.h:659), never from an interrupt:
  // {+.+.}.
  [LOCK.kvmMmuLock]: {
    usage: '+.+.',
    waitInner: LD_WAIT_CONFIG,
    waitOuter: LD_WAIT_INV,
    spinlock: true,
    instance: { in: 'kvm', offset: 0x20 },
  },
  // DEFINE_MUTEX(oom_lock) (mm/oom_kill.c:66): LD_WAIT_SLEEP (include/linux/mutex.h:112-116);
  // mutex_lock() from process context only: {+.+.}.
  [LOCK.oomLock]: {
    usage: '+.+.',
    waitInner: LD_WAIT_SLEEP,
    waitOuter: LD_WAIT_INV,
    spinlock: false,
    instance: { static: 'oom_lock', offset: 0x40 },
  },
};

/** A class the table does not know: nothing marked, no wait type, a static lockdep_map. */
function lockClass(name: string): LockClass {
  return (
    LOCK_CLASSES[name] ?? {
      usage: '....',
      waitInner: LD_WAIT_INV,
      waitOuter: LD_WAIT_INV,
      spinlock: false,
      instance: { static: name, offset: 0 },
    }
  );
}

/**
 * Where each object lives: a static one in .data at a place its name hashes to; the k-th
 * process's mm_struct (mm_cachep, in the linear map) and the j-th VM's struct kvm (in the
 * scenario's order) at fixed strides. kvm_arch_alloc_vm() is __vmalloc on x86
 * (arch/x86/include/asm/kvm_host.h:1310-1314) and kzalloc elsewhere; arm64 uses vzalloc with VHE
 * (arch/arm64/kvm/arm.c:238-244), and mnsim's arm64 host is taken to run without it.
 */
function instanceAddress(ctx: ExecContext, sys: Sys, owners: LockOwners, c: LockClass): bigint {
  const layout = kernelLayout(sys.host.arch);
  const inst = c.instance;
  if ('static' in inst) {
    return layout.data + BigInt((fnv1a(inst.static) % 0x8000) * 0x40 + inst.offset);
  }
  const processes = sys.scenario.processes;
  const mmPid = owners.mm ?? ctx.task.pid;
  if (inst.in === 'mm') {
    const k = Math.max(
      0,
      processes.findIndex((p) => p.pid === mmPid),
    );
    return layout.linear + 0x05480000n + BigInt(k * 0x800 + inst.offset);
  }
  const vms = processes.flatMap((p) => p.vms.map((v) => ({ pid: p.pid, name: v.name })));
  const name = owners.kvm ?? vms.find((v) => v.pid === mmPid)?.name;
  const j = Math.max(
    0,
    vms.findIndex((v) => v.name === name),
  );
  const base = sys.host.arch === 'x86' ? layout.vmalloc + 0x01a00000n : layout.linear + 0x03000000n;
  return base + BigInt(j * 0x10000 + inst.offset);
}

/** The IP a held lock was taken at (hlock->acquire_ip): in the function that took it. */
export function acquireIp(ctx: ExecContext, sys: Sys, l: HeldLock): { symbol: string; ip: bigint } {
  const symbol = symbolOf(sys.host.arch, ctx.stack, l.at);
  return { symbol, ip: ipIn(sys.host.arch, symbol, l.name) };
}

/** The held spinlock whose spin_lock() in `fn` disabled preemption, if it is still held. */
export function spinlockTakenIn(ctx: ExecContext, fn: string): HeldLock | undefined {
  return ctx.locks.find((l) => l.at === fn && lockClass(l.name).spinlock);
}

/** print_lock(): one held-lock line. */
function printLock(ctx: ExecContext, sys: Sys, owners: LockOwners, i: number, l: HeldLock): string {
  const c = lockClass(l.name);
  const at = acquireIp(ctx, sys, l);
  const instance = printPointer(instanceAddress(ctx, sys, owners, c));
  const outer = c.waitOuter || c.waitInner;
  return ` #${i}: ${instance} (${l.name}){${c.usage}}-{${outer}:${c.waitInner}}, at: ${printSymbol(sys.host.arch, at.symbol, at.ip)}`;
}

/** lockdep_print_held_locks(current): the count line, then print_lock() per held lock. */
export function lockdepPrintHeldLocks(ctx: ExecContext, sys: Sys, owners: LockOwners): string[] {
  const n = ctx.locks.length;
  const who = `${ctx.task.comm}/${ctx.task.pid}`;
  if (n === 0) return [`no locks held by ${who}.`];
  return [
    `${n} lock${n > 1 ? 's' : ''} held by ${who}:`,
    ...ctx.locks.map((l, i) => printLock(ctx, sys, owners, i, l)),
  ];
}
