/**
 * The reported BUG (reference §9 oracles 1–3, §6.2 the splat, §10 what a violation records):
 * arm64 5.8, the OOM reaper's non-blockable range reaches unmap_stage2_range(), whose
 * cond_resched_lock() at every PGD boundary fails ___might_sleep (non_block 1, mmu_lock held).
 */
import { describe, expect, it } from 'vitest';
import { resolveScenario } from '@mnsim/scenarios';
import type { KernelVariant } from '@mnsim/kernel';
import {
  BUG_LINE,
  GOLDEN_SPLAT,
  GiB,
  KiB,
  SIGNATURE,
  SITE_394,
  SOURCE_STACK,
  UNFIXED,
  VARIANTS,
  callsOf,
  checks,
  covered,
  guestDoc,
  kvmStartsBy,
  logLines,
  logTexts,
  normalizeRelease,
  pgdirSize,
  reaperTask,
  reaperTries,
  run,
  scenarioOf,
  task,
  tracesOf,
  vm,
  withoutOffset,
} from './helpers.js';

const builtin = resolveScenario('oom-reap-arm64').scenario;

/** oom-reap-arm64 without its exit step, so the state after the reap can be inspected. */
const noExitDoc = guestDoc({
  name: 'oom-reap-arm64-no-exit',
  memslots: [{ gpa: GiB, hva: GiB, size: 3 * GiB }],
  others: [
    {
      pid: 1300,
      comm: 'stress-ng',
      oomScoreAdj: -1000,
      vmas: [{ start: 0x100000000, size: 6 * GiB }],
    },
  ],
  steps: [
    { at: 0, do: 'fault-in', vm: 'guest0' },
    { at: 10, do: 'allocate', pid: 1300, size: 6 * GiB },
  ],
});
const noExit = scenarioOf(noExitDoc);
const PER_TRY = checks(GiB, 3 * GiB, pgdirSize(4 * KiB, 40)); // 2

describe('oracle 1: arm64 5.8, OOM, guest RAM crossing stage-2 PGD boundaries', () => {
  describe.each(UNFIXED)('%s', (kernel) => {
    const r = run(builtin, kernel);
    const reaper = reaperTask(r);

    it('one violation per boundary crossed, all in the reaper try at the jiffy of the kill', () => {
      const kill = logLines(r, /^Out of memory: Killed process 1200 /);
      expect(kill.map((l) => l.jiffies)).toEqual([10]);
      expect(reaperTries(r)).toEqual([10]);
      expect(PER_TRY).toBe(2);
      expect(r.violations).toHaveLength(PER_TRY);
      expect(r.violations.map((v) => v.jiffies)).toEqual([10, 10]);
    });

    it('each violation: mmu.c:394, in_atomic 1, irqs_disabled 0, non_block 1, in oom_reaper', () => {
      expect(reaper.comm).toBe('oom_reaper');
      expect(reaper.pid).toBe(36);
      for (const v of r.violations) {
        expect(v).toMatchObject({
          site: SITE_394,
          inAtomic: 1,
          irqsDisabled: 0,
          nonBlock: 1,
          pid: reaper.pid,
          comm: 'oom_reaper',
          signature: SIGNATURE,
        });
      }
    });

    it('the context: preempt_count 1 from mmu_lock, non_block_count 1 from the hlist walk', () => {
      const kvmCalls = kvmStartsBy(r, reaper.pid);
      expect(kvmCalls).toHaveLength(1);
      // entering KVM's _start: non_block_start() done, mmu_lock not yet taken
      expect(kvmCalls[0].nonBlockCount).toBe(1);
      expect(kvmCalls[0].preemptCount).toBe(0);
      expect(kvmCalls[0].args.range).toMatchObject({ start: GiB, end: 4 * GiB, flags: 0 });
    });

    it('§10: stack is the full source-level chain, innermost first', () => {
      for (const v of r.violations) expect(v.stack).toEqual(SOURCE_STACK);
    });

    it('§6.2: the first printed report is the splat of the commit message', () => {
      const first = r.violations.find((v) => v.reported);
      expect(first).toBeDefined();
      const lines = first!.text.split('\n');
      const golden = GOLDEN_SPLAT.map(withoutOffset).map((l) =>
        l.replace('pid: 36', `pid: ${reaper.pid}`).replace('PID: 36', `PID: ${reaper.pid}`),
      );
      expect(lines).toHaveLength(golden.length);
      expect(lines.slice(0, 3)).toEqual(golden.slice(0, 3));
      // "CPU: n": the CPU is the seeded scheduler's choice
      const cpu = /^CPU: (\d+) /.exec(lines[3]);
      expect(cpu).not.toBeNull();
      expect(Number(cpu![1])).toBeLessThan(builtin.host.cpus);
      if (kernel === '5.8') expect(lines[3]).toBe(golden[3].replace('CPU: 3', `CPU: ${cpu![1]}`));
      else
        expect(lines[3]).toMatch(
          new RegExp(
            `^CPU: \\d+ PID: ${reaper.pid} Comm: oom_reaper Not tainted 5\\.8\\.0\\S* #1$`,
          ),
        );
      expect(lines.slice(4)).toEqual(golden.slice(4));
      // the 14 frames of the printed trace
      expect(lines.slice(6)).toHaveLength(14);
    });

    it('the two printk lines are KERN_ERR and the splat is in dmesg exactly once', () => {
      const bug = r.kernelLog.filter((l) => BUG_LINE.test(l.text));
      expect(bug).toHaveLength(1);
      const i = r.kernelLog.findIndex((l) => BUG_LINE.test(l.text));
      expect(r.kernelLog[i].level).toBe(3);
      expect(r.kernelLog[i + 1].level).toBe(3);
      expect(r.kernelLog[i + 1].text).toBe(
        `in_atomic(): 1, irqs_disabled(): 0, non_block: 1, pid: ${reaper.pid}, name: oom_reaper`,
      );
    });

    it('no "Preemption disabled at:" (preempt_count 1 == PREEMPT_LOCK_OFFSET)', () => {
      for (const v of r.violations) expect(v.text).not.toContain('Preemption disabled at:');
      expect(logTexts(r).some((t) => t.includes('Preemption disabled at:'))).toBe(false);
    });

    it('headers say "Not tainted" before the first report and "Tainted: G        W" after it', () => {
      const text = logTexts(r);
      const bugAt = text.findIndex((t) => BUG_LINE.test(t));
      text.forEach((t, i) => {
        if (!/^CPU: \d+ PID: /.test(t)) return;
        if (i <= bugAt + 3) expect(t).toContain(' Not tainted ');
        else expect(t).toContain(' Tainted: G        W');
      });
      // the second violation (not printed) was recorded with the tainted header
      expect(r.violations[1].text.split('\n')[3]).toContain(' Tainted: G        W');
      expect(r.violations[1].text.split('\n')[3]).not.toContain('Not tainted');
    });

    it('the reap still succeeds: "oom_reaper: reaped process" and nothing crashes', () => {
      expect(logLines(r, /^oom_reaper: reaped process 1200 /)).toEqual([
        {
          jiffies: 10,
          text: 'oom_reaper: reaped process 1200 (qemu-system-aar), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB',
        },
      ]);
      expect(logLines(r, /unable to reap/)).toHaveLength(0);
      expect(r.panicked).toBe(false);
    });
  });

  it('lockdep on: a held-lock list instead of "INFO: lockdep is turned off."', () => {
    const doc = structuredClone(noExitDoc);
    (doc.host as Record<string, unknown>).lockdep = true;
    const r = run(scenarioOf({ ...doc, name: 'lockdep-on' }), '5.8');
    const lines = r.violations[0].text.split('\n');
    expect(lines).not.toContain('INFO: lockdep is turned off.');
    // kernel/locking/lockdep.c:715 and, per lock, 724 " #%d: " + 703 "%px" + 665-669
    // " (name){usage}-{outer:inner}" + 705 ", at: %pS" (docs/kernel-5.8-print-notes.md §4)
    expect(lines[2]).toBe('5 locks held by oom_reaper/36:');
    const held = lines.slice(
      3,
      lines.findIndex((l) => /^CPU: /.test(l)),
    );
    // the instance's top half says where it lives (arm64: the linear map ffff0000…, the image
    // ffff8000…); the low half and the offsets are the model's stand-ins (kallsyms.ts)
    const shape = (l: string): string =>
      l
        .replace(/^( #\d: [0-9a-f]{8})[0-9a-f]{8} /, '$1… ')
        .replace(/\+0x[0-9a-f]+\/0x[0-9a-f]+$/, '+0x…/0x…');
    expect(held.map(shape)).toEqual([
      // the victim's mm_struct; mmap_read_trylock() in oom_reap_task_mm (mm/oom_kill.c:572),
      // which the arm64 build inlined into oom_reap_task; an rwsem: LD_WAIT_SLEEP (rwsem.c:331)
      ' #0: ffff0000… (&mm->mmap_lock){++++}-{3:3}, at: oom_reap_task+0x…/0x…',
      // a static lockdep_map without wait type (mm/mmu_notifier.c:26-28), lock_map_acquire()
      ' #1: ffff8000… (mmu_notifier_invalidate_range_start){+.+.}-{0:0}, at: mmu_notifier_invalidate_range_start_nonblock+0x…/0x…',
      // DEFINE_STATIC_SRCU(srcu) (mm/mmu_notifier.c:23): srcu_read_lock() has check=0, so no
      // usage bits (include/linux/rcupdate.h:241, lockdep.c:3837-3838); mn_hlist_* is inlined
      ' #2: ffff8000… (srcu){....}-{0:0}, at: __mmu_notifier_invalidate_range_start+0x…/0x…',
      ' #3: ffff0000… (&kvm->srcu){....}-{0:0}, at: kvm_mmu_notifier_invalidate_range_start+0x…/0x…',
      // spin_lock_init(): LD_WAIT_CONFIG = LD_WAIT_SPIN = 2 (include/linux/spinlock.h:338)
      ' #4: ffff0000… (&kvm->mmu_lock){+.+.}-{2:2}, at: kvm_mmu_notifier_invalidate_range_start+0x…/0x…',
    ]);
    expect(lines.some((l) => l.includes('Preemption disabled at:'))).toBe(false);
  });
});

describe('oracles 1 and 3: the stage-2 and the host pages are gone after the reap', () => {
  it.each(VARIANTS)('%s', (kernel) => {
    const r = run(noExit, kernel);
    const g = vm(r);
    expect(g.mapped).toEqual([]);
    expect(covered(task(r, 1200).mm!.resident, GiB, 4 * GiB)).toBe(0);
    // range_end paired the start: the count is back to 0 and the sequence moved
    expect(g.mmuNotifierCount).toBe(0);
    expect(g.mmuNotifierSeq).toBe(1);
    expect(task(r, 1200).mm!.flags.oomSkip).toBe(true);
    expect(r.violations).toHaveLength(kernel === '5.8+fix' ? 0 : PER_TRY);
    // §5.1: kvm_unmap_hva_range() returns 0, so KVM's _start flushes only for tlbs_dirty
    expect(g.tlbFlushes).toBe(0);
    // cond_resched_lock() checks executed on this VM by the reaper
    expect(g.condReschedChecks).toBe(kernel === '5.8+fix' ? 0 : PER_TRY);
  });
});

describe('oracle 2: 5.8+flags behaves exactly like 5.8 on arm64', () => {
  const strip = (v: { seq: number; text: string }) => ({ ...v, text: normalizeRelease(v.text) });
  it.each(['oom-reap-arm64', 'userptr-eagain-arm64', 'rate-limit-arm64', 'oom-reap-arm64-16k'])(
    '%s',
    (name) => {
      const s = resolveScenario(name).scenario;
      const a = run(s, '5.8');
      const b = run(s, '5.8+flags');
      expect(b.violations.length).toBeGreaterThan(0);
      expect(b.violations.map(strip)).toEqual(a.violations.map(strip));
      expect(logTexts(b).map(normalizeRelease)).toEqual(logTexts(a).map(normalizeRelease));
      expect(b.states).toEqual(a.states);
      // what patch 1 changes: the flags reach kvm_unmap_hva_range(); arm64 ignores them there
      const walks = (r: typeof a) =>
        tracesOf(r, 'unmap_stage2_range').map((t) => ({ ...t.detail, mayBlock: null }));
      expect(walks(b)).toEqual(walks(a));
    },
  );
});

describe('oracle 3: 5.8+fix', () => {
  const r = run(builtin, '5.8+fix');
  const reaper = reaperTask(r);

  it('0 violations on the OOM path', () => {
    expect(r.violations).toHaveLength(0);
    expect(logTexts(r).some((t) => BUG_LINE.test(t))).toBe(false);
  });

  it('cond_resched_lock is not called: mmu_lock is held across the whole range', () => {
    const walk = tracesOf(r, 'unmap_stage2_range').filter((t) => t.stim.pid === reaper.pid);
    expect(walk).toHaveLength(1);
    expect(walk[0].detail).toMatchObject({
      gpa: GiB,
      size: 3 * GiB,
      checks: 0,
      mayBlock: false,
      entries: PER_TRY + 1,
    });
    // the same entries are unmapped as on 5.8
    const buggy = tracesOf(run(builtin, '5.8'), 'unmap_stage2_range').filter(
      (t) => t.stim.pid === reaper.pid,
    );
    expect(walk[0].detail.unmapped).toBe(buggy[0].detail.unmapped);
    expect(walk[0].detail.unmapped).toBe(3 * GiB);
  });

  it('the reap succeeds and is printed', () => {
    expect(logLines(r, /^oom_reaper: reaped process 1200 \(qemu-system-aar\)/)).toHaveLength(1);
    expect(callsOf(r, 'kvm_mmu_notifier_invalidate_range_end').length).toBeGreaterThan(0);
  });
});

describe('§10: the violation record and the splat of each variant', () => {
  it.each(VARIANTS)('%s: site line and signature', (kernel: KernelVariant) => {
    const r = run(builtin, kernel);
    if (kernel === '5.8+fix') {
      expect(r.violations).toHaveLength(0);
      return;
    }
    expect(r.violations.every((v) => v.site === SITE_394)).toBe(true);
    expect(r.violations.every((v) => v.signature === SIGNATURE)).toBe(true);
    // the printed trace omits exactly the frames inlined by the 5.8 arm64 build
    const printed = r.violations[0].text
      .split('\n')
      .slice(6)
      .map((l) => l.trim());
    const inlined = [
      'kvm_unmap_hva_handler',
      'handle_hva_to_gpa',
      'mn_hlist_invalidate_range_start',
      'oom_reap_task_mm',
    ];
    expect(printed.slice(3)).toEqual(SOURCE_STACK.filter((f) => !inlined.includes(f)));
  });
});
