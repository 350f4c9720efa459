/**
 * Random valid scenarios from one seed, for campaigns (`mnsim fuzz`) and the benchmark: arches,
 * page sizes, IPA sizes, memslot layouts (aligned and not), other notifier subscribers, and a mix
 * of every step kind. A scenario is produced as YAML and read back through `parseScenario`, so
 * every generated scenario is one the validator accepts and one a user could save and rerun.
 */
import { stringify } from 'yaml';
import {
  ARCHES,
  KERNEL_VARIANTS,
  type Arch,
  type KernelVariant,
  type Scenario,
  nextInt,
  seedPrng,
  type PrngState,
} from '@mnsim/kernel';
import { parseScenario } from './parse.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/**
 * A campaign's scenarios are named `fuzz-<seed>-<index>`: the history finds a campaign's runs
 * by the prefix of their scenario.
 */
export const FUZZ_SCENARIO_PREFIX = 'fuzz-';

export function fuzzCampaignPrefix(seed: number): string {
  return `${FUZZ_SCENARIO_PREFIX}${seed}-`;
}

export interface GenerateOptions {
  /** steps after the initial fault-ins (default: 4..24 at random) */
  steps?: number;
  /** restrict the arches / variants drawn from */
  arches?: readonly Arch[];
  kernels?: readonly KernelVariant[];
  /**
   * campaign: every step kind, guests exit and VMs go away along the way;
   * invalidations: range-heavy (mprotect, munmap, migrate, fault-in, lock holds), then one OOM
   * and the exits at the end -- the benchmark's workload.
   */
  mix?: 'campaign' | 'invalidations';
}

export interface GeneratedScenario {
  scenario: Scenario;
  yaml: string;
}

function pick<T>(st: PrngState, xs: readonly T[]): T {
  return xs[nextInt(st, xs.length)];
}

function pageSizesOf(arch: Arch): number[] {
  if (arch === 'arm64') return [4 * KiB, 16 * KiB, 64 * KiB];
  if (arch.startsWith('powerpc-book3s')) return [4 * KiB, 64 * KiB];
  return [4 * KiB];
}

const QEMU_COMM: Record<Arch, string> = {
  arm64: 'qemu-system-aarch64',
  x86: 'qemu-system-x86_64',
  mips: 'qemu-system-mips64el',
  'powerpc-book3s-hv': 'qemu-system-ppc64',
  'powerpc-book3s-pr': 'qemu-system-ppc64',
  'powerpc-e500': 'qemu-system-ppc',
};

const hex = (n: number): string => `0x${n.toString(16)}`;

/** The `index`-th scenario of the campaign seeded with `seed`: the same pair, the same scenario. */
export function generateScenario(
  seed: number,
  index: number,
  opts: GenerateOptions = {},
): GeneratedScenario {
  const st = seedPrng(seed * 1_000_003 + index);
  const arch = pick(st, opts.arches ?? ARCHES);
  const kernel = pick(st, opts.kernels ?? KERNEL_VARIANTS);
  const pageSize = pick(st, pageSizesOf(arch));
  const ipaBits =
    arch === 'arm64'
      ? pick(st, pageSize === 16 * KiB ? [36, 40, 42, 48] : [32, 36, 40, 44, 48])
      : 40;
  const ipaLimit = 2 ** ipaBits;
  const memory = pick(st, [4, 8, 16, 32]) * GiB;
  // an alignment unit that keeps every address a multiple of the page size and makes PGD crossings likely
  const unit = Math.max(pageSize, 2 * MiB);

  const processes: object[] = [];
  /** each guest: its VM, its RAM's host range, and its memslots' guest-physical ranges */
  const vmNames: {
    name: string;
    pid: number;
    start: number;
    size: number;
    slots: { gpa: number; size: number }[];
  }[] = [];
  const guests = 1 + nextInt(st, 2);
  for (let g = 0; g < guests; g++) {
    const pid = 1000 + g * 100;
    const ramUnits =
      1 + nextInt(st, Math.max(1, Math.floor(Math.min(memory / 2, ipaLimit / 4) / unit)));
    const size = Math.min(ramUnits * unit, 8 * GiB);
    const start = (g + 1) * 1024 * GiB;
    const shared = nextInt(st, 10) === 0;
    const locked = !shared && nextInt(st, 12) === 0;
    const slots = 1 + nextInt(st, 3);
    const slotSize = Math.max(unit, Math.floor(size / slots / unit) * unit);
    const memslots: object[] = [];
    const slotRanges: { gpa: number; size: number }[] = [];
    let gpa = nextInt(st, 2) === 0 ? 0 : unit * (1 + nextInt(st, 256));
    for (let s = 0; s < slots && (s + 1) * slotSize <= size; s++) {
      if (gpa + slotSize > ipaLimit) break;
      memslots.push({ gpa: hex(gpa), hva: hex(start + s * slotSize), size: slotSize });
      slotRanges.push({ gpa, size: slotSize });
      gpa += slotSize + unit * nextInt(st, 3);
    }
    const name = `guest${g}`;
    vmNames.push({ name, pid, start, size, slots: slotRanges });
    processes.push({
      pid,
      comm: QEMU_COMM[arch],
      oomScoreAdj: pick(st, [0, 0, 0, 100, -100]),
      vmas: [{ start: hex(start), size, anon: true, shared, locked }],
      vms: [{ name, ...(arch === 'arm64' ? { ipaBits } : {}), memslots }],
    });
  }
  const stressPid = 2000;
  processes.push({
    pid: stressPid,
    comm: 'stress-ng',
    oomScoreAdj: pick(st, [-1000, -1000, 0]),
    vmas: [{ start: hex(8192 * GiB), size: memory * 2, anon: true }],
  });

  // other notifiers beside KVM on a guest's mm, in a quarter of the scenarios, failing ones among
  // them: a failing classic one is what leaks KVM's mmu_notifier_count (notifier-imbalance, then
  // guest-livelock when a vcpu-fault follows)
  const mix = opts.mix ?? 'campaign';
  const subscribers: object[] = [];
  if (nextInt(st, 4) === 0) {
    const v = pick(st, vmNames);
    subscribers.push(
      nextInt(st, 2) === 0
        ? { pid: v.pid, kind: 'userptr', nonBlockable: pick(st, ['eagain', 'ok']) }
        : {
            pid: v.pid,
            kind: 'interval',
            start: hex(v.start),
            size: unit,
            nonBlockable: pick(st, ['eagain', 'ok']),
          },
    );
  }

  const steps: object[] = vmNames.map((v) => ({ at: 0, do: 'fault-in', vm: v.name }));
  const n = opts.steps ?? 4 + nextInt(st, 21);
  // a guest whose VM was destroyed or whose process exited takes no further steps
  const live = [...vmNames];
  let at = 1;
  for (let i = 0; i < n && live.length > 0; i++) {
    at += nextInt(st, 40);
    const v = pick(st, live);
    const off = unit * nextInt(st, Math.max(1, v.size / unit));
    const len =
      mix === 'campaign'
        ? Math.min(v.size - off, unit * (1 + nextInt(st, 1024)))
        : Math.max(unit, Math.floor((v.size - off) / unit / (1 + nextInt(st, 2))) * unit);
    // invalidations: mostly mprotect (one range per PUD), some migrations and lock holds, and
    // small munmaps only, so the guests stay populated for the whole run
    const kind = mix === 'campaign' ? nextInt(st, 20) : pick(st, [0, 1, 2, 3, 4, 5, 6, 9, 12, 14]);
    if (kind < 5)
      steps.push({ at, do: 'mprotect', pid: v.pid, start: hex(v.start + off), size: len });
    else if (kind < 9)
      steps.push({
        at,
        do: 'migrate',
        pid: v.pid,
        start: hex(v.start + off),
        size: Math.min(len, 64 * MiB),
      });
    else if (kind < 11) steps.push({ at, do: 'fault-in', vm: v.name });
    else if (kind < 12 && v.slots.length === 0) steps.push({ at, do: 'fault-in', vm: v.name });
    else if (kind < 12) {
      // a guest access that misses stage 2: after a leaked invalidation it retries forever
      const slot = pick(st, v.slots);
      const page = pageSize * nextInt(st, slot.size / pageSize);
      steps.push({ at, do: 'vcpu-fault', vm: v.name, gpa: hex(slot.gpa + page) });
    } else if (kind < 14) {
      const size = mix === 'campaign' ? len : Math.min(len, unit * (1 + nextInt(st, 4)));
      steps.push({ at, do: 'munmap', pid: v.pid, start: hex(v.start + off), size });
    } else if (kind < 15)
      steps.push({ at, do: 'hold-mmap-lock', pid: v.pid, for: 1 + nextInt(st, 60) });
    else if (kind < 17) steps.push({ at, do: 'allocate', pid: stressPid, size: memory });
    else if (kind < 18) steps.push({ at, do: 'oom' });
    else {
      steps.push(kind < 19 ? { at, do: 'exit', pid: v.pid } : { at, do: 'destroy-vm', vm: v.name });
      live.splice(live.indexOf(v), 1);
    }
  }
  if (mix === 'invalidations') {
    steps.push({ at: at + 1, do: 'allocate', pid: stressPid, size: memory });
    for (const v of live) steps.push({ at: at + 100, do: 'exit', pid: v.pid });
  }

  const doc = {
    name: `${fuzzCampaignPrefix(seed)}${index}`,
    description: `generated: campaign seed ${seed}, scenario ${index}`,
    kernel,
    seed: nextInt(st, 2 ** 31),
    hz: pick(st, [100, 250, 250, 300, 1000]),
    host: { arch, memory, pageSize, cpus: 1 + nextInt(st, 8) },
    processes,
    subscribers,
    steps,
  };
  const yaml = stringify(doc);
  return { scenario: parseScenario(yaml, `${doc.name}.yaml`), yaml };
}
