/**
 * ___might_sleep() and its once-per-HZ rate limit, against kernel/sched/core.c (line numbers as
 * in a v5.8.1 tree):
 *
 *   6909  if ((preempt_count_equals(preempt_offset) && !irqs_disabled() &&
 *   6910       !is_idle_task(current) && !current->non_block_count) ||
 *   6911      system_state == SYSTEM_BOOTING || system_state > SYSTEM_RUNNING ||
 *   6912      oops_in_progress)
 *   6913          return;
 *   6915  if (time_before(jiffies, prev_jiffy + HZ) && prev_jiffy)
 *   6916          return;
 *   6917  prev_jiffy = jiffies;
 *   …     printk(KERN_ERR "BUG: sleeping function called from invalid context at %s:%d\n" …)
 *   6936  if (IS_ENABLED(CONFIG_DEBUG_PREEMPT) && !preempt_count_equals(preempt_offset)) …
 *   6941  dump_stack();
 *   6942  add_taint(TAINT_WARN, LOCKDEP_STILL_OK);
 *
 * `prev_jiffy` is one function-level static (core.c:6902): one window for every task and site.
 * cond_resched_lock() calls it with PREEMPT_LOCK_OFFSET (include/linux/sched.h:1826-1829),
 * might_sleep() with 0 (include/linux/kernel.h:219-220).
 */
import { describe, expect, it } from 'vitest';
import { type ExecContext, type KernelGlobals, makeContext, newGlobals } from '../context.js';
import type { Sys } from '../sys.js';
import type { Scenario } from '../../model/scenario.js';
import { variantOf } from '../../variants.js';
import type { ViolationRecord } from './violation.js';
import {
  PREEMPT_LOCK_OFFSET,
  condReschedLock,
  mightSleep,
  mightSleepCheck,
} from './might-sleep.js';

const SITE = { file: 'arch/arm64/kvm/mmu.c', line: 394 };
const HZS = [100, 250, 300, 1000] as const;

/** A Sys that only records violations: ___might_sleep calls nothing else. */
function sysAt(hz: number): Sys & { recorded: ViolationRecord[] } {
  const host = { arch: 'arm64', memory: 2 ** 33, pageSize: 4096, cpus: 4, lockdep: false } as const;
  const recorded: ViolationRecord[] = [];
  const unexpected = (what: string) => (): never => {
    throw new Error(`___might_sleep called sys.${what}`);
  };
  return {
    hz,
    variant: variantOf('5.8'),
    host,
    scenario: { hz, host, processes: [] } as unknown as Scenario,
    call: unexpected('call'),
    printk: unexpected('printk'),
    trace: unexpected('trace'),
    arm: unexpected('arm'),
    violation: (_ctx, v) => recorded.push(v),
    recorded,
  };
}

/**
 * The oom_reaper's context at the check of the splat: preempt_count 1 (mmu_lock), non_block 1
 * (mn_hlist_invalidate_range_start), at `jiffies`.
 */
function reaperCtx(jiffies: number, globals: KernelGlobals): ExecContext {
  const ctx = makeContext(
    { pid: 36, comm: 'oom_reaper', kthread: true },
    ['ret_from_fork', 'kthread', 'oom_reaper', 'oom_reap_task', 'unmap_stage2_range'],
    jiffies,
    3,
    globals,
  );
  ctx.preemptCount = 1;
  ctx.nonBlockCount = 1;
  return ctx;
}

/** cond_resched_lock() in the reaper's context at each jiffy, sharing one kernel's globals. */
function checksAt(hz: number, jiffies: readonly number[], globals = newGlobals()) {
  const sys = sysAt(hz);
  for (const j of jiffies) condReschedLock(reaperCtx(j, globals), sys, SITE.file, SITE.line);
  return { reported: sys.recorded.map((v) => v.reported), sys, globals };
}

describe('___might_sleep: which checks fail (kernel/sched/core.c:6909-6913)', () => {
  function check(set: Partial<ExecContext>, offset: number): ViolationRecord[] {
    const sys = sysAt(250);
    const ctx = Object.assign(reaperCtx(40, newGlobals()), { nonBlockCount: 0 }, set);
    mightSleepCheck(ctx, sys, SITE.file, SITE.line, offset);
    return sys.recorded;
  }

  it('preempt_count == offset, irqs on, non_block 0: no violation and the limiter untouched', () => {
    const g: KernelGlobals = { panicked: false, prevJiffy: 7, taintWarn: false };
    const sys = sysAt(250);
    const ctx = reaperCtx(500, g);
    ctx.nonBlockCount = 0;
    condReschedLock(ctx, sys, SITE.file, SITE.line); // count 1 == PREEMPT_LOCK_OFFSET
    ctx.preemptCount = 0;
    mightSleep(ctx, sys, 'include/linux/mmu_notifier.h', 431); // offset 0
    expect(sys.recorded).toEqual([]);
    expect(g).toEqual({ panicked: false, prevJiffy: 7, taintWarn: false });
  });

  it('PREEMPT_LOCK_OFFSET is PREEMPT_DISABLE_OFFSET = PREEMPT_OFFSET = 1 (include/linux/preempt.h:49,110,118)', () => {
    expect(PREEMPT_LOCK_OFFSET).toBe(1);
  });

  it.each([
    // [what, context, offset, in_atomic, irqs_disabled, non_block]
    ['preempt_count above the offset', { preemptCount: 1 }, 0, 1, 0, 0],
    ['preempt_count below the offset (equality, not <=)', { preemptCount: 0 }, 1, 0, 0, 0],
    ['two spinlocks under cond_resched_lock', { preemptCount: 2 }, 1, 1, 0, 0],
    ['irqs disabled', { preemptCount: 1, irqsDisabled: true }, 1, 1, 1, 0],
    ['non_block_count 1 (the OOM case)', { preemptCount: 1, nonBlockCount: 1 }, 1, 1, 0, 1],
    ['non_block_count printed raw', { preemptCount: 1, nonBlockCount: 2 }, 1, 1, 0, 2],
  ] as const)('%s', (_what, set, offset, inAtomic, irqsDisabled, nonBlock) => {
    const [v] = check(set, offset);
    expect(v).toBeDefined();
    // in_atomic() is preempt_count() != 0 (include/linux/preempt.h:142)
    expect([v.inAtomic, v.irqsDisabled, v.nonBlock]).toEqual([inAtomic, irqsDisabled, nonBlock]);
    expect(v.site).toBe('arch/arm64/kvm/mmu.c:394');
    expect([v.pid, v.comm, v.jiffies]).toEqual([36, 'oom_reaper', 40]);
    expect(v.text.split('\n').slice(0, 2)).toEqual([
      'BUG: sleeping function called from invalid context at arch/arm64/kvm/mmu.c:394',
      `in_atomic(): ${inAtomic}, irqs_disabled(): ${irqsDisabled}, non_block: ${nonBlock}, pid: 36, name: oom_reaper`,
    ]);
  });

  it('"Preemption disabled at:" only when preempt_count != offset (core.c:6936-6940)', () => {
    const [oom] = check({ preemptCount: 1, nonBlockCount: 1 }, PREEMPT_LOCK_OFFSET);
    expect(oom.text).not.toContain('Preemption disabled at:');
    const [nested] = check({ preemptCount: 2 }, PREEMPT_LOCK_OFFSET);
    expect(nested.text).toContain('Preemption disabled at:');
  });

  // print_ip_sym(): printk("%s[<%px>] %pS\n", loglvl, ip, ip) (include/linux/kallsyms.h:169-172)
  const ipSym = (v: ViolationRecord): string => {
    const lines = v.text.split('\n');
    return lines[lines.indexOf('Preemption disabled at:') + 1];
  };

  it('print_ip_sym: a raw %px kernel address, then the symbol +0xoff/0xsize', () => {
    const [v] = check({ preemptCount: 2, preemptDisableIp: 'unmap_stage2_range' }, 1);
    const m = /^\[<(ffff8000[0-9a-f]{8})>\] unmap_stage2_range\+0x([0-9a-f]+)\/0x([0-9a-f]+)$/.exec(
      ipSym(v),
    );
    expect(m, ipSym(v)).not.toBeNull();
    const [off, size] = [parseInt(m![2], 16), parseInt(m![3], 16)];
    expect(off).toBeGreaterThan(0);
    expect(off).toBeLessThan(size);
    // the same IP every time: from the symbol's name, not a clock or a random source
    expect(ipSym(check({ preemptCount: 2, preemptDisableIp: 'unmap_stage2_range' }, 1)[0])).toBe(
      ipSym(v),
    );
    expect(ipSym(v)).not.toContain('ptrval');
  });

  it('print_ip_sym with no IP recorded: %px of 0 and %pS of 0, "0x0" (kernel/kallsyms.c:365)', () => {
    const [v] = check({ preemptCount: 0, preemptDisableIp: null }, 1);
    expect(ipSym(v)).toBe('[<0000000000000000>] 0x0');
  });

  it("the IP spin_lock() recorded is the lock's acquire IP in lockdep's list (core.c:3853-3862)", () => {
    const sys = sysAt(250);
    (sys.host as { lockdep: boolean }).lockdep = true;
    const ctx = reaperCtx(40, newGlobals());
    Object.assign(ctx, { nonBlockCount: 0, preemptDisableIp: 'unmap_stage2_range' });
    ctx.locks = [{ at: 'unmap_stage2_range', name: '&kvm->mmu_lock' }];
    mightSleep(ctx, sys, 'kernel/rcu/srcutree.c', 930); // offset 0, preempt_count 1
    const [v] = sys.recorded;
    const held = /^ #0: [0-9a-f]{16} \(&kvm->mmu_lock\)\{\+\.\+\.\}-\{2:2\}, at: (.+)$/.exec(
      v.text.split('\n')[3],
    );
    expect(held).not.toBeNull();
    expect(ipSym(v)).toMatch(/^\[<[0-9a-f]{16}>\] /);
    expect(ipSym(v).replace(/^\[<[0-9a-f]{16}>\] /, '')).toBe(held![1]);
  });
});

describe('___might_sleep: the rate limit (kernel/sched/core.c:6915-6917)', () => {
  it.each(HZS)(
    'HZ %i: HZ-1 after a printed report is suppressed, exactly HZ after prints',
    (hz) => {
      // time_before(jiffies, prev_jiffy + HZ): jiffies < prev_jiffy + HZ, strictly
      expect(checksAt(hz, [1000, 1000 + hz - 1]).reported).toEqual([true, false]);
      const { reported, globals } = checksAt(hz, [1000, 1000 + hz]);
      expect(reported).toEqual([true, true]);
      expect(globals.prevJiffy).toBe(1000 + hz);
    },
  );

  it.each(HZS)(
    'HZ %i: a suppressed report does not move the window (prev_jiffy set after the return)',
    (hz) => {
      const { reported, globals } = checksAt(hz, [100, 100 + hz - 1, 100 + hz, 100 + 2 * hz - 1]);
      expect(reported).toEqual([true, false, true, false]);
      expect(globals.prevJiffy).toBe(100 + hz);
    },
  );

  it.each(HZS)(
    'HZ %i: every violation is recorded, printed or not; same-jiffy ones print once',
    (hz) => {
      const { reported, sys } = checksAt(hz, [50, 50, 50, 51]);
      expect(reported).toEqual([true, false, false, false]);
      expect(sys.recorded.map((v) => v.jiffies)).toEqual([50, 50, 50, 51]);
    },
  );

  it.each(HZS)('HZ %i: the first report ever prints at any jiffy (prev_jiffy == 0)', (hz) => {
    expect(checksAt(hz, [1]).reported).toEqual([true]);
    expect(checksAt(hz, [hz - 1]).reported).toEqual([true]);
    expect(checksAt(hz, [123456]).reported).toEqual([true]);
  });

  it.each(HZS)(
    'HZ %i: a report printed at jiffy 0 leaves prev_jiffy 0, so the next prints too',
    (hz) => {
      // `&& prev_jiffy`: prev_jiffy = 0 after a print at jiffy 0 disarms the limiter
      const { reported, globals } = checksAt(hz, [0, 0, hz - 1, hz, 2 * hz - 1, 2 * hz - 1]);
      expect(reported).toEqual([true, true, true, false, true, false]);
      expect(globals.prevJiffy).toBe(2 * hz - 1);
    },
  );

  it('the window is global: another task at another site is suppressed inside it', () => {
    const globals = newGlobals();
    const sys = sysAt(250);
    condReschedLock(reaperCtx(300, globals), sys, SITE.file, SITE.line);
    const other = makeContext(
      { pid: 1200, comm: 'qemu-system-aar', kthread: false },
      ['el0_svc', 'mmu_notifier_unregister', 'synchronize_srcu'],
      400,
      0,
      globals,
    );
    other.preemptCount = 1;
    mightSleep(other, sys, 'kernel/rcu/srcutree.c', 1034);
    expect(sys.recorded.map((v) => [v.site, v.pid, v.reported])).toEqual([
      ['arch/arm64/kvm/mmu.c:394', 36, true],
      ['kernel/rcu/srcutree.c:1034', 1200, false],
    ]);
  });
});

describe('___might_sleep: the taint (core.c:6941-6942)', () => {
  it('add_taint(TAINT_WARN) comes after dump_stack(): the first splat says Not tainted, the next W', () => {
    const { sys, globals } = checksAt(250, [10, 300]);
    const header = (v: ViolationRecord): string => v.text.split('\n')[3];
    expect(header(sys.recorded[0])).toMatch(
      /^CPU: 3 PID: 36 Comm: oom_reaper Not tainted 5\.8\.0 #1$/,
    );
    expect(header(sys.recorded[1])).toMatch(
      /^CPU: 3 PID: 36 Comm: oom_reaper Tainted: G {8}W {9}5\.8\.0 #1$/,
    );
    expect(globals.taintWarn).toBe(true);
  });

  it('a rate-limited report returns before add_taint: no taint', () => {
    const globals: KernelGlobals = { panicked: false, prevJiffy: 500, taintWarn: false };
    const { reported } = checksAt(250, [600], globals);
    expect(reported).toEqual([false]);
    expect(globals).toEqual({ panicked: false, prevJiffy: 500, taintWarn: false });
  });
});
