/**
 * lockdep's held-lock lines against kernel/locking/lockdep.c (line numbers as in a v5.8.1 tree,
 * the same file as v5.8-rc7's):
 *
 *   703  printk(KERN_CONT "%px", hlock->instance);
 *   704  print_lock_name(lock);      665-669: " (" name "){%s}-{%hd:%hd}", usage,
 *                                             wait_type_outer ?: wait_type_inner, wait_type_inner
 *   705  printk(KERN_CONT ", at: %pS\n", (void *)hlock->acquire_ip);
 *   715  printk("%d lock%s held by %s/%d:\n", depth, depth > 1 ? "s" : "", comm, pid);
 *   724  printk(" #%d: ", i);
 */
import { describe, expect, it } from 'vitest';
import { LOCK, type ExecContext, makeContext, newGlobals } from '../context.js';
import type { Sys } from '../sys.js';
import type { Arch, ProcessSpec, Scenario } from '../../model/scenario.js';
import { variantOf } from '../../variants.js';
import { fnv1a, printPointer } from '../kallsyms.js';
import { lockdepPrintHeldLocks } from './lockdep.js';

const GiB = 1024 ** 3;

function proc(pid: number, comm: string, vms: string[]): ProcessSpec {
  return {
    pid,
    comm,
    oomScoreAdj: 0,
    vmas: [],
    vms: vms.map((name) => ({ name, ipaBits: 40, memslots: [] })),
  };
}

/** Two qemus, the second with two VMs: three struct kvm, two mm_structs. */
function sysOn(arch: Arch): Sys {
  const host = { arch, memory: 8 * GiB, pageSize: 4096, cpus: 4, lockdep: true };
  const scenario = {
    hz: 250,
    host,
    processes: [proc(1200, 'qemu-a', ['g0']), proc(1300, 'qemu-b', ['g1', 'g2'])],
  } as unknown as Scenario;
  const no = (): never => {
    throw new Error('lockdep printing calls nothing');
  };
  return {
    hz: 250,
    variant: variantOf('5.8'),
    host,
    scenario,
    call: no,
    printk: no,
    trace: no,
    violation: no,
    arm: no,
  };
}

/** The OOM reaper inside unmap_stage2_range, holding what the 5.8 chain holds there. */
function reaperCtx(): ExecContext {
  const ctx = makeContext(
    { pid: 36, comm: 'oom_reaper', kthread: true },
    [
      'ret_from_fork',
      'kthread',
      'oom_reaper',
      'oom_reap_task',
      'oom_reap_task_mm',
      '__oom_reap_task_mm',
      'mmu_notifier_invalidate_range_start_nonblock',
      '__mmu_notifier_invalidate_range_start',
      'mn_hlist_invalidate_range_start',
      'kvm_mmu_notifier_invalidate_range_start',
      'kvm_unmap_hva_range',
      'handle_hva_to_gpa',
      'kvm_unmap_hva_handler',
      'unmap_stage2_range',
    ],
    40,
    3,
    newGlobals(),
  );
  ctx.locks = [
    { at: 'oom_reap_task_mm', name: LOCK.mmapLock },
    { at: 'mmu_notifier_invalidate_range_start_nonblock', name: LOCK.mmuNotifierMap },
    { at: 'mn_hlist_invalidate_range_start', name: LOCK.mmuNotifierSrcu },
    { at: 'kvm_mmu_notifier_invalidate_range_start', name: LOCK.kvmSrcu },
    { at: 'kvm_mmu_notifier_invalidate_range_start', name: LOCK.kvmMmuLock },
  ];
  return ctx;
}

const LINE = /^ #(\d): ([0-9a-f]{16}) \((.+)\)\{([.+?-]{4})\}-\{(\d):(\d)\}, at: (.+)$/;
const AT = /^([A-Za-z0-9_.]+)\+0x([0-9a-f]+)\/0x([0-9a-f]+)$/;

function parsed(lines: string[]) {
  return lines.slice(1).map((l) => {
    const m = LINE.exec(l);
    if (!m) throw new Error(`not a print_lock() line: ${JSON.stringify(l)}`);
    const at = AT.exec(m[7]);
    if (!at) throw new Error(`not a %pS: ${m[7]}`);
    return {
      i: Number(m[1]),
      instance: m[2],
      name: m[3],
      usage: m[4],
      wait: `${m[5]}:${m[6]}`,
      at: at[1],
      off: parseInt(at[2], 16),
      size: parseInt(at[3], 16),
    };
  });
}

describe('lockdep_print_held_locks (kernel/locking/lockdep.c:708-727)', () => {
  it('"no locks held by comm/pid." with none; "1 lock" and "N locks" otherwise (712-716)', () => {
    const sys = sysOn('arm64');
    const ctx = reaperCtx();
    const locks = ctx.locks;
    ctx.locks = [];
    expect(lockdepPrintHeldLocks(ctx, sys, {})).toEqual(['no locks held by oom_reaper/36.']);
    ctx.locks = locks.slice(0, 1);
    expect(lockdepPrintHeldLocks(ctx, sys, {})[0]).toBe('1 lock held by oom_reaper/36:');
    ctx.locks = locks;
    expect(lockdepPrintHeldLocks(ctx, sys, {})[0]).toBe('5 locks held by oom_reaper/36:');
  });

  it('each lock: instance, class, usage, wait types, and the acquire IP as %pS (684-706)', () => {
    const lines = lockdepPrintHeldLocks(reaperCtx(), sysOn('arm64'), { kvm: 'g0', mm: 1200 });
    expect(lines).toHaveLength(6);
    const held = parsed(lines);
    expect(held.map((h) => [h.i, h.name, h.usage, h.wait, h.at])).toEqual([
      // rwsem: LD_WAIT_SLEEP (rwsem.c:331); read and written with irqs on since boot;
      // mmap_read_trylock() in oom_reap_task_mm, inlined into oom_reap_task on arm64
      [0, '&mm->mmap_lock', '++++', '3:3', 'oom_reap_task'],
      // a bare lockdep_map without wait type (mm/mmu_notifier.c:26-28), lock_map_acquire()
      [
        1,
        'mmu_notifier_invalidate_range_start',
        '+.+.',
        '0:0',
        'mmu_notifier_invalidate_range_start_nonblock',
      ],
      // SRCU: check=0 marks no usage (rcupdate.h:241, lockdep.c:3837); mn_hlist_* is inlined
      [2, 'srcu', '....', '0:0', '__mmu_notifier_invalidate_range_start'],
      [3, '&kvm->srcu', '....', '0:0', 'kvm_mmu_notifier_invalidate_range_start'],
      // spinlock_t: LD_WAIT_CONFIG = LD_WAIT_SPIN = 2 (spinlock.h:338, lockdep.h:33)
      [4, '&kvm->mmu_lock', '+.+.', '2:2', 'kvm_mmu_notifier_invalidate_range_start'],
    ]);
    for (const h of held) {
      expect(h.off).toBeGreaterThan(0);
      expect(h.off).toBeLessThan(h.size);
      expect(h.off % 4).toBe(0); // an arm64 instruction
    }
  });

  it('instances: kernel addresses, one per object, the same every time', () => {
    const sys = sysOn('arm64');
    const inst = (owners: { kvm?: string; mm?: number }) =>
      parsed(lockdepPrintHeldLocks(reaperCtx(), sys, owners)).map((h) => h.instance);
    const a = inst({ kvm: 'g0', mm: 1200 });
    expect(inst({ kvm: 'g0', mm: 1200 })).toEqual(a);
    // arm64: slab objects in the linear map, statics in the image
    for (const i of [0, 3, 4]) expect(a[i]).toMatch(/^ffff0000/);
    for (const i of [1, 2]) expect(a[i]).toMatch(/^ffff8000/);
    const b = inst({ kvm: 'g2', mm: 1300 });
    expect(b[0]).not.toBe(a[0]); // another mm_struct
    expect([b[3], b[4]]).not.toEqual([a[3], a[4]]); // another struct kvm
    expect([b[1], b[2]]).toEqual([a[1], a[2]]); // the same statics
    // kvm->srcu and kvm->mmu_lock are two fields of one struct kvm
    expect(BigInt(`0x${a[3]}`) - BigInt(`0x${a[4]}`)).toBe(BigInt(0x1e48 - 0x20));
    expect(inst({ kvm: 'g1', mm: 1300 })[3]).not.toBe(b[3]);
  });

  it('without owners: current->mm, and the first VM on it', () => {
    const sys = sysOn('arm64');
    const ctx = reaperCtx();
    ctx.task = { pid: 1300, comm: 'qemu-b', kthread: false };
    const mine = parsed(lockdepPrintHeldLocks(ctx, sys, {}));
    const named = parsed(lockdepPrintHeldLocks(ctx, sys, { kvm: 'g1', mm: 1300 }));
    expect(mine.map((h) => h.instance)).toEqual(named.map((h) => h.instance));
  });

  it("x86: struct kvm is vmalloc'd (kvm_host.h:1310-1314), slab objects in the direct map", () => {
    const held = parsed(lockdepPrintHeldLocks(reaperCtx(), sysOn('x86'), { kvm: 'g0', mm: 1200 }));
    expect(held[0].instance).toMatch(/^ffff8881/);
    expect(held[4].instance).toMatch(/^ffffc900/);
    expect(held[1].instance).toMatch(/^ffffffff8/);
    // x86 inlines nothing mnsim knows of: every frame is its own symbol
    expect(held[0].at).toBe('oom_reap_task_mm');
  });
});

describe('the stand-in addresses', () => {
  it('%px is 16 zero-padded hex digits (lib/vsprintf.c:693-705)', () => {
    expect(printPointer(0n)).toBe('0000000000000000');
    expect(printPointer(0xffff0000c5ac2d38n)).toBe('ffff0000c5ac2d38');
  });

  it('FNV-1a, as published: stable across processes and releases', () => {
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect(fnv1a('a')).toBe(0xe40c292c);
  });
});
