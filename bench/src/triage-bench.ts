/**
 * Triage of a large real-shaped kernel log: `mnsim triage <log> --json`, run as the CLI, on a
 * 100 MB log holding 1,000 splats among ordinary console traffic, built-in matching included
 * (every built-in re-executed on every variant). Its wall time, and its peak RSS against that of a
 * tenth of the log with a tenth of the splats: the log is read a line at a time, so memory should
 * not grow with it.
 *
 * The splats come in the shapes of real logs: arm64's "Call trace:" with no "? " frames, x86's
 * "Call Trace:" with "? " frames, ".cold" and ".isra" suffixes, `<IRQ>` markers, lock lists,
 * register dumps, syslog and timestamp prefixes, and "scheduling while atomic".
 *
 * Also reported, for context, the fixed part of the cost: the built-in matching alone, measured
 * in this process.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { indexBuiltins } from '@mnsim/triage';
import { seedSplatOf } from './seed-splat.js';

const MiB = 1024 ** 2;
const CLI = fileURLToPath(new URL('../../apps/cli/src/main.js', import.meta.url));
/** how often the child's high-water mark is read */
const RSS_POLL_MS = 50;

export interface TriageBenchResult {
  /** the large log: its size, splats, wall time and the CLI's peak RSS */
  logMiB: number;
  splats: number;
  secs: number;
  peakRssMiB: number | null;
  /** the same for a tenth of the log and of the splats */
  smallLogMiB: number;
  smallSecs: number;
  smallPeakRssMiB: number | null;
  /** peakRssMiB / smallPeakRssMiB: 1 when memory does not grow with the log */
  rssGrowth: number | null;
  /** the built-ins on every variant, matched once in this process: the fixed part of secs */
  builtinMatchingSecs: number;
  /** every splat titled and counted by the CLI (a check that the run did the work) */
  reports: number;
}

export async function benchTriage(
  opts: { logMiB?: number; splats?: number; log?: (line: string) => void } = {},
): Promise<TriageBenchResult> {
  const logMiB = opts.logMiB ?? 100;
  const splats = opts.splats ?? 1000;
  const say = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const dir = mkdtempSync(join(tmpdir(), 'mnsim-bench-triage-'));
  try {
    const t0 = process.hrtime.bigint();
    indexBuiltins();
    const builtinMatchingSecs = Number(process.hrtime.bigint() - t0) / 1e9;

    const small = join(dir, 'small.log');
    const large = join(dir, 'large.log');
    await writeLog(small, (logMiB * MiB) / 10, splats / 10);
    await writeLog(large, logMiB * MiB, splats);
    say(
      `triage: ${logMiB / 10} MiB with ${splats / 10} splats, then ${logMiB} MiB with ${splats}…`,
    );
    const s = await triageCli(small, dir);
    const l = await triageCli(large, dir);
    if (l.reports !== splats || s.reports !== splats / 10) {
      throw new Error(
        `triage found ${l.reports} and ${s.reports} splats, not ${splats} and ${splats / 10}`,
      );
    }
    return {
      logMiB,
      splats,
      secs: round(l.secs),
      peakRssMiB: l.peakRss === null ? null : round(l.peakRss / MiB),
      smallLogMiB: logMiB / 10,
      smallSecs: round(s.secs),
      smallPeakRssMiB: s.peakRss === null ? null : round(s.peakRss / MiB),
      rssGrowth: l.peakRss === null || s.peakRss === null ? null : round(l.peakRss / s.peakRss),
      builtinMatchingSecs: round(builtinMatchingSecs),
      reports: l.reports,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** `mnsim triage <file> --json` on an empty store of its own: wall time, peak RSS, reports. */
async function triageCli(
  file: string,
  dir: string,
): Promise<{ secs: number; peakRss: number | null; reports: number }> {
  const t0 = process.hrtime.bigint();
  const child = spawn(process.execPath, [CLI, 'triage', file, '--json'], {
    env: { ...process.env, MNSIM_SQLITE_PATH: join(dir, 'store.sqlite'), MNSIM_DATABASE_URL: '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  let peakRss: number | null = null;
  // VmHWM is the process's own high-water mark: the last reading before it exits is its peak,
  // up to the last poll interval
  const poll = setInterval(() => {
    const hwm = highWaterMark(child.pid);
    if (hwm !== null) peakRss = Math.max(peakRss ?? 0, hwm);
  }, RSS_POLL_MS);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearInterval(poll);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (code !== 0) throw new Error(`mnsim triage exited ${code}`);
  const { reports } = JSON.parse(out) as { reports: unknown[] };
  return { secs, peakRss, reports: reports.length };
}

/** A process's peak resident set in bytes, from /proc (null where there is none). */
function highWaterMark(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** A console log of about `bytes`, with `splats` splats spread evenly through it. */
export async function writeLog(path: string, bytes: number, splats: number): Promise<void> {
  const out = createWriteStream(path);
  let written = 0;
  let line = 0;
  let seconds = 0;
  const write = async (text: string): Promise<void> => {
    const l = `Dec  6 10:${String(Math.floor(seconds / 60) % 60).padStart(2, '0')}:${String(seconds % 60).padStart(2, '0')} host kernel: [${(seconds + line / 1e6).toFixed(6).padStart(12)}] ${text}\n`;
    written += l.length;
    line++;
    if (!out.write(l)) await once(out, 'drain');
  };
  const noisePerSplat = Math.max(0, Math.floor(bytes / splats / NOISE_BYTES) - 1);
  for (let s = 0; s < splats; s++) {
    for (let i = 0; i < noisePerSplat; i++) await write(NOISE[(s + i) % NOISE.length]);
    for (const l of SPLATS[s % SPLATS.length](s)) await write(l);
    seconds++;
  }
  while (written < bytes) await write(NOISE[line % NOISE.length]);
  out.end();
  await once(out, 'finish');
}

const NOISE = [
  'EXT4-fs (vda1): mounted filesystem with ordered data mode. Opts: (null)',
  'IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready',
  'audit: type=1400 audit(1607248800.123:42): apparmor="STATUS" operation="profile_load" profile="unconfined" name="/usr/bin/qemu-system-aarch64" pid=1234 comm="apparmor_parser"',
  'kvm [4242]: vcpu0, guest rIP: 0xffffffff8103a4c6 disabled perfctr wrmsr: 0xc2 data 0xffff',
  'stress-ng[5120]: segfault at 0 ip 000055d4d3b0a1f0 sp 00007ffd3f0c9e80 error 6 in stress-ng[55d4d3a00000+200000]',
  'systemd-journald[312]: Received client request to flush runtime journal.',
  'virtio_net virtio0 enp1s0: renamed from eth0',
  'Memory cgroup out of memory: Killed process 6001 (stress-ng-vm) total-vm:1048576kB, anon-rss:524288kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:2048kB oom_score_adj:1000',
];
/** a noise line's bytes on average, its console prefix and newline included */
const NOISE_BYTES =
  NOISE.reduce((n, l) => n + l.length, 0) / NOISE.length +
  'Dec  6 10:00:00 host kernel: [    0.000000] \n'.length;

/** The seed's splat, as arm64 5.8 prints it from the oom_reaper. */
const arm64Reaper = (n: number): string[] => seedSplatOf(36 + (n % 3), n % 4);

/** An x86 might_sleep with lockdep's lock list, "? " frames and a ".cold" suffix. */
const x86Ioctl = (n: number): string[] => [
  'BUG: sleeping function called from invalid context at mm/slab.h:567',
  `in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: ${4000 + n}, name: qemu-system-x86`,
  '2 locks held by qemu-system-x86/4242:',
  ' #0: ffff888107a3c0a8 (&kvm->srcu){....}-{0:0}, at: kvm_vcpu_ioctl+0x2b2/0x6c0',
  ' #1: ffff888107a3c018 (&kvm->mmu_lock){+.+.}-{2:2}, at: kvm_mmu_page_fault+0x1f3/0x7a0',
  `CPU: 2 PID: ${4000 + n} Comm: qemu-system-x86 Tainted: G        W         5.10.0-rc4+ #7`,
  'Hardware name: QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.13.0-1 04/01/2014',
  'Call Trace:',
  ' dump_stack+0x8b/0xb0',
  ' ___might_sleep.cold+0xb6/0xc6',
  ' ? kvm_mmu_page_fault+0x1f3/0x7a0',
  ' __kmalloc+0x2ad/0x300',
  ' ? mmu_topup_memory_caches+0x40/0x80',
  ' mmu_topup_memory_caches.isra.0+0x5b/0x80',
  ' direct_page_fault+0x12e/0x9a0',
  ' kvm_mmu_page_fault+0x1f3/0x7a0',
  ' vcpu_enter_guest+0x8c4/0x1710',
  ' kvm_arch_vcpu_ioctl_run+0x1b5/0x6a0',
  ' kvm_vcpu_ioctl+0x2b2/0x6c0',
  ' __x64_sys_ioctl+0x8e/0xd0',
  ' do_syscall_64+0x33/0x80',
  ' entry_SYSCALL_64_after_hwframe+0x44/0xa9',
  'RIP: 0033:0x7f6b1c0a3f6b',
  'RSP: 002b:00007f6b0b7fd6f8 EFLAGS: 00000246 ORIG_RAX: 0000000000000010',
];

/** "scheduling while atomic" from an interrupt, with `<IRQ>` markers. */
const x86Irq = (n: number): string[] => [
  `BUG: scheduling while atomic: swapper/${n % 4}/0/0x00010002`,
  'Modules linked in: kvm_intel kvm irqbypass',
  `CPU: ${n % 4} PID: 0 Comm: swapper/${n % 4} Tainted: G        W         5.10.0-rc4+ #7`,
  'Hardware name: QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.13.0-1 04/01/2014',
  'Call Trace:',
  ' <IRQ>',
  ' dump_stack+0x8b/0xb0',
  ' __schedule_bug.cold+0x4c/0x58',
  ' __schedule+0x5a1/0x7b0',
  ' schedule+0x46/0xb0',
  ' schedule_timeout+0x1e5/0x280',
  ' ? __next_timer_interrupt+0xf0/0xf0',
  ' msleep+0x29/0x40',
  ' e1000_watchdog+0x61/0x540',
  ' call_timer_fn+0x2b/0x130',
  ' run_timer_softirq+0x1ad/0x420',
  ' __do_softirq+0xe1/0x2d6',
  ' asm_call_irq_on_stack+0x12/0x20',
  ' </IRQ>',
  ' do_softirq_own_stack+0x37/0x40',
  ' irq_exit_rcu+0xc2/0xd0',
  ' sysvec_apic_timer_interrupt+0x36/0x80',
  ' asm_sysvec_apic_timer_interrupt+0x12/0x20',
];

const SPLATS = [arm64Reaper, x86Ioctl, x86Irq];
