/**
 * Shared machinery of the fidelity oracles (reference/kernel-5.8-model.md §9, §10).
 *
 * Everything that states an EXPECTATION here is transcribed from the reference, never computed by
 * the model: the §5.1 stage-2 table, the checks formula, the §6.2 splat and the §10 stack. The
 * rest runs scenarios and collects what happened (events, traces, the kernel log).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { simulate, type SimulationResult } from '@mnsim/engine';
import type { Arch, KernelVariant, Scenario } from '@mnsim/kernel';
import { PAGE_SIZES, listBuiltinScenarios, parseScenario, parseSize } from '@mnsim/scenarios';
import { encodePayload } from '@mnsim/events';
import { SEED_SPLAT } from '../../bench/src/seed-splat.js';

export const KiB = 1024;
export const MiB = 1024 ** 2;
export const GiB = 1024 ** 3;
export const TiB = 1024 ** 4;

export const VARIANTS: readonly KernelVariant[] = ['5.8', '5.8+flags', '5.8+fix'];
/** the variants without patch 2: the BUG is there (oracle 2: +flags behaves like 5.8) */
export const UNFIXED: readonly KernelVariant[] = ['5.8', '5.8+flags'];
export const NON_ARM64: readonly Arch[] = [
  'x86',
  'mips',
  'powerpc-book3s-hv',
  'powerpc-book3s-pr',
  'powerpc-e500',
];

/** The might_sleep site of the BUG at 5.8 (§0, §5.1). */
export const SITE_394 = 'arch/arm64/kvm/mmu.c:394';
export const SIGNATURE = 'BUG: sleeping function called from invalid context in unmap_stage2_range';

/** §10: the source-level chain of the OOM-case violation, innermost first. */
export const SOURCE_STACK = [
  '___might_sleep',
  'unmap_stage2_range',
  'kvm_unmap_hva_handler',
  'handle_hva_to_gpa',
  'kvm_unmap_hva_range',
  'kvm_mmu_notifier_invalidate_range_start',
  'mn_hlist_invalidate_range_start',
  '__mmu_notifier_invalidate_range_start',
  'mmu_notifier_invalidate_range_start_nonblock',
  '__oom_reap_task_mm',
  'oom_reap_task_mm',
  'oom_reap_task',
  'oom_reaper',
  'kthread',
  'ret_from_fork',
];

/** §6.2, verbatim from the commit message (without the " | " quote prefix). */
export const GOLDEN_SPLAT = SEED_SPLAT;

/** Offsets are not modelled: " unmap_stage2_range+0x160/0x1ac" -> " unmap_stage2_range". */
export function withoutOffset(line: string): string {
  return line.replace(/\+0x[0-9a-f]+\/0x[0-9a-f]+$/, '');
}

// ------------------------------------------------------------------------------------------------
// §5.1 stage-2 geometry, transcribed from the table (not from the model)

export interface Stage2Row {
  page: number;
  ipa: number;
  levels: number;
  /** bytes one stage-2 PGD entry maps */
  S: number;
  /** stage2_pgd_ptrs */
  entries: number;
}

const row = (page: number, ipa: number, levels: number, S: number, entries: number): Stage2Row => ({
  page,
  ipa,
  levels,
  S,
  entries,
});

export const STAGE2_TABLE: readonly Stage2Row[] = [
  row(4 * KiB, 32, 2, 2 * MiB, 2048),
  row(4 * KiB, 36, 3, GiB, 64),
  row(4 * KiB, 40, 3, GiB, 1024),
  row(4 * KiB, 42, 3, GiB, 4096),
  row(4 * KiB, 44, 4, 512 * GiB, 32),
  row(4 * KiB, 48, 4, 512 * GiB, 512),
  row(16 * KiB, 40, 2, 32 * MiB, 32768),
  // "16K | 41–47 | 3 | 64 GiB | 32 … 2048"
  row(16 * KiB, 41, 3, 64 * GiB, 32),
  row(16 * KiB, 42, 3, 64 * GiB, 64),
  row(16 * KiB, 43, 3, 64 * GiB, 128),
  row(16 * KiB, 44, 3, 64 * GiB, 256),
  row(16 * KiB, 45, 3, 64 * GiB, 512),
  row(16 * KiB, 46, 3, 64 * GiB, 1024),
  row(16 * KiB, 47, 3, 64 * GiB, 2048),
  row(16 * KiB, 48, 3, 64 * GiB, 4096),
  row(64 * KiB, 40, 2, 512 * MiB, 2048),
  row(64 * KiB, 42, 2, 512 * MiB, 8192),
  row(64 * KiB, 44, 2, 512 * MiB, 32768),
  row(64 * KiB, 46, 2, 512 * MiB, 131072),
  row(64 * KiB, 48, 3, 4 * TiB, 64),
  row(64 * KiB, 52, 3, 4 * TiB, 1024),
];

/** S for (page, ipa) from the §5.1 table; throws for a combination the table does not list. */
export function pgdirSize(page: number, ipa: number): number {
  const r = STAGE2_TABLE.find((x) => x.page === page && x.ipa === ipa);
  if (!r) throw new Error(`§5.1 has no row for ${page / KiB}K pages, IPA ${ipa}`);
  return r.S;
}

/** §5.1: checks = floor((gpa+size-1)/S) − floor(gpa/S) for one unmap_stage2_range call. */
export function checks(gpa: number, size: number, S: number): number {
  return Math.floor((gpa + size - 1) / S) - Math.floor(gpa / S);
}

export interface SlotDoc {
  gpa: number;
  hva: number;
  size: number;
}

/**
 * checks(range) of §9 for one reaper (or munmap) range [start, end) of the hva space: the formula
 * summed over the memslots of every VM of the process that the range overlaps, in gpa space.
 */
export function rangeChecks(
  slots: readonly SlotDoc[],
  start: number,
  end: number,
  S: number,
): number {
  let n = 0;
  for (const m of slots) {
    const hs = Math.max(start, m.hva);
    const he = Math.min(end, m.hva + m.size);
    if (hs >= he) continue;
    n += checks(m.gpa + (hs - m.hva), he - hs, S);
  }
  return n;
}

// ------------------------------------------------------------------------------------------------
// Scenario documents (the YAML format of design.md, as plain objects)

export type Doc = Record<string, unknown> & { name: string };

export function scenarioOf(doc: Doc): Scenario {
  return parseScenario(stringifyYaml(doc), `${doc.name}.yaml`);
}

export interface GuestOptions {
  name: string;
  arch?: Arch;
  pageSize?: number;
  memory?: number;
  hz?: number;
  lockdep?: boolean;
  ipaBits?: number;
  comm?: string;
  pid?: number;
  /** guest RAM VMAs; default: one anonymous private VMA covering every memslot's hva range */
  vmas?: Record<string, unknown>[];
  memslots: SlotDoc[];
  subscribers?: Record<string, unknown>[];
  /** other processes of the scenario */
  others?: Record<string, unknown>[];
  /** default: fault-in at 0, oom at 10 */
  steps?: Record<string, unknown>[];
}

/** One qemu process (pid 1200) with one VM "guest0" and its guest RAM. */
export function guestDoc(o: GuestOptions): Doc {
  const lo = Math.min(...o.memslots.map((m) => m.hva));
  const hi = Math.max(...o.memslots.map((m) => m.hva + m.size));
  const vm: Record<string, unknown> = { name: 'guest0', memslots: o.memslots };
  if (o.ipaBits !== undefined) vm.ipaBits = o.ipaBits;
  const host: Record<string, unknown> = { arch: o.arch ?? 'arm64', memory: o.memory ?? 8 * GiB };
  if (o.pageSize !== undefined) host.pageSize = o.pageSize;
  if (o.lockdep !== undefined) host.lockdep = o.lockdep;
  const doc: Doc = {
    name: o.name,
    host,
    processes: [
      {
        pid: o.pid ?? 1200,
        comm: o.comm ?? 'qemu-system-aarch64',
        vmas: o.vmas ?? [{ start: lo, size: hi - lo }],
        vms: [vm],
      },
      ...(o.others ?? []),
    ],
    steps: o.steps ?? [
      { at: 0, do: 'fault-in', vm: 'guest0' },
      { at: 10, do: 'oom' },
    ],
  };
  if (o.hz !== undefined) doc.hz = o.hz;
  if (o.subscribers) doc.subscribers = o.subscribers;
  return doc;
}

/** The same story on another architecture: page size and ipaBits are arm64 settings. */
export function retarget(doc: Doc, arch: Arch): Doc {
  const d = structuredClone(doc);
  d.name = `${d.name}-on-${arch}`;
  const host = d.host as Record<string, unknown>;
  host.arch = arch;
  const allowed = PAGE_SIZES[arch] ?? [];
  if (host.pageSize !== undefined && !allowed.includes(parseSize(host.pageSize))) {
    delete host.pageSize;
  }
  for (const p of (d.processes as Record<string, unknown>[]) ?? []) {
    for (const vm of (p.vms as Record<string, unknown>[]) ?? []) delete vm.ipaBits;
  }
  return d;
}

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

export function fixtureDoc(name: string): Doc {
  return parseYaml(readFileSync(join(FIXTURES, `${name}.yaml`), 'utf8')) as Doc;
}

export function fixture(name: string): Scenario {
  return parseScenario(readFileSync(join(FIXTURES, `${name}.yaml`), 'utf8'), `${name}.yaml`);
}

export function fixtureNames(): string[] {
  return readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .sort();
}

export function builtinDocs(): Doc[] {
  return listBuiltinScenarios().map((b) => parseYaml(readFileSync(b.file, 'utf8')) as Doc);
}

// ------------------------------------------------------------------------------------------------
// Running and observing

export interface TaskRef {
  pid: number;
  comm: string;
}

export interface TraceEntry {
  what: string;
  detail: Record<string, unknown>;
}

export interface EvPayload {
  fn?: string;
  args?: Record<string, unknown>;
  ctx?: { task: TaskRef; preemptCount: number; nonBlockCount: number; stack: string[] };
  ret?: unknown;
  trace?: TraceEntry[];
  log?: { jiffies: number; level: number; text: string }[];
}

export interface Ev {
  seq: number;
  type: string;
  jiffies: number;
  payload: EvPayload;
  /** the task of the stimulus (step or timer) whose chain this event belongs to */
  stim: TaskRef & { fn: string };
}

/**
 * A run as the oracles read it. The §9 oracles are about the failed ___might_sleep checks, so
 * `violations` holds those (kind atomic-sleep) and `findings` every finding of every kind.
 */
export interface Run extends SimulationResult {
  findings: SimulationResult['violations'];
  ev: Ev[];
  hz: number;
}

export function run(s: Scenario, kernel: KernelVariant, seed?: number): Run {
  const ev: Ev[] = [];
  let stim: Ev['stim'] = { pid: -1, comm: '', fn: '' };
  const r = simulate(s, {
    kernel,
    ...(seed !== undefined ? { seed } : {}),
    // the embedded engine shares live objects: keep the canonical encoding, not the object
    onEvent: (e) => {
      const payload = JSON.parse(encodePayload(e.type, e.payload)) as EvPayload;
      if ((e.type === 'step' || e.type === 'timer') && payload.ctx) {
        stim = { pid: payload.ctx.task.pid, comm: payload.ctx.task.comm, fn: payload.fn ?? '' };
      }
      ev.push({ seq: e.seq, type: e.type, jiffies: e.jiffies, payload, stim });
    },
  });
  return {
    ...r,
    violations: r.violations.filter((v) => v.kind === 'atomic-sleep'),
    findings: r.violations,
    ev,
    hz: s.hz,
  };
}

export interface TraceHit {
  jiffies: number;
  stim: Ev['stim'];
  detail: Record<string, unknown>;
}

export function tracesOf(r: Run, what: string): TraceHit[] {
  const out: TraceHit[] = [];
  for (const e of r.ev) {
    for (const t of e.payload.trace ?? []) {
      if (t.what === what) out.push({ jiffies: e.jiffies, stim: e.stim, detail: t.detail });
    }
  }
  return out;
}

export interface CallHit {
  seq: number;
  jiffies: number;
  task: TaskRef;
  args: Record<string, unknown>;
  nonBlockCount: number;
  preemptCount: number;
  /** the caller's stack, outermost first */
  stack: string[];
}

export function callsOf(r: Run, fn: string): CallHit[] {
  return r.ev
    .filter((e) => e.type === 'call' && e.payload.fn === fn)
    .map((e) => ({
      seq: e.seq,
      jiffies: e.jiffies,
      task: e.payload.ctx?.task ?? { pid: -1, comm: '' },
      args: e.payload.args ?? {},
      nonBlockCount: e.payload.ctx?.nonBlockCount ?? -1,
      preemptCount: e.payload.ctx?.preemptCount ?? -1,
      stack: e.payload.ctx?.stack ?? [],
    }));
}

/** The jiffies of every oom_reap_task_mm() try. */
export function reaperTries(r: Run): number[] {
  return callsOf(r, 'oom_reap_task_mm').map((c) => c.jiffies);
}

/** The oom_reaper kthread as the run shows it: the task of its oom_reap_task_mm() calls. */
export function reaperTask(r: Run): TaskRef {
  const c = callsOf(r, 'oom_reap_task_mm')[0];
  if (!c) throw new Error('the oom_reaper never ran');
  return c.task;
}

/** KVM's invalidate_range_start calls made in the context of `pid`. */
export function kvmStartsBy(r: Run, pid: number): CallHit[] {
  return callsOf(r, 'kvm_mmu_notifier_invalidate_range_start').filter((c) => c.task.pid === pid);
}

export function logTexts(r: Run): string[] {
  return r.kernelLog.map((l) => l.text);
}

export function logLines(r: Run, re: RegExp): { jiffies: number; text: string }[] {
  return r.kernelLog
    .filter((l) => re.test(l.text))
    .map((l) => ({ jiffies: l.jiffies, text: l.text }));
}

export const BUG_LINE = /^BUG: sleeping function called from invalid context at /;

export function vm(r: Run, name = 'guest0') {
  const v = r.states.kvm.vms.find((x) => x.name === name);
  if (!v) throw new Error(`no vm ${name}`);
  return v;
}

export function task(r: Run, pid: number) {
  const t = r.states.mm.tasks.find((x) => x.pid === pid);
  if (!t) throw new Error(`no task ${pid}`);
  return t;
}

/** Bytes of [start, end) covered by a flat interval list [s0, e0, s1, e1, …]. */
export function covered(iv: readonly number[] | null, start: number, end: number): number {
  if (!iv) return 0;
  let n = 0;
  for (let i = 0; i + 1 < iv.length; i += 2) {
    n += Math.max(0, Math.min(end, iv[i + 1]) - Math.max(start, iv[i]));
  }
  return n;
}

/** Jiffy -> how many violations happened then. */
export function byJiffy(r: Run): Record<number, number> {
  const out: Record<number, number> = {};
  for (const v of r.violations) out[v.jiffies] = (out[v.jiffies] ?? 0) + 1;
  return out;
}

/** The uname release of a variant's build differs; everything else of a splat must not. */
export function normalizeRelease(text: string): string {
  return text.replace(/ 5\.8\.0\S* #1$/gm, ' <release> #1');
}
