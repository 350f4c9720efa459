/**
 * CPU time from Linux's /proc, for the distributed benchmark to say where a campaign's time goes:
 * the user + system time of each worker process, and how busy the whole machine was (and how much
 * of it the hypervisor took: steal). Without /proc (not Linux) every reading is null and the
 * benchmark reports none.
 */
import { readFileSync } from 'node:fs';

/** USER_HZ, the unit of /proc's times: 100 on every architecture Linux exposes to user space. */
const USER_HZ = 100;

/**
 * utime + stime of a /proc/<pid>/stat line, in seconds. Its second field, the command name in
 * parentheses, may hold spaces and parentheses itself: the fields are counted from its last ')'.
 */
export function parseProcessCpu(stat: string): number {
  const close = stat.lastIndexOf(')');
  // after ") ": field 3 (state) onwards; utime and stime are fields 14 and 15
  const fields = close < 0 ? [] : stat.slice(close + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (fields.length < 13 || !Number.isInteger(utime) || !Number.isInteger(stime)) {
    throw new Error(`not a /proc/<pid>/stat line: ${JSON.stringify(stat.slice(0, 80))}`);
  }
  return (utime + stime) / USER_HZ;
}

/** The whole machine's CPU time so far, all CPUs together, in seconds. */
export interface MachineCpu {
  /** user, nice, system, irq and softirq time */
  busy: number;
  /** time the hypervisor gave to others while this machine had work */
  steal: number;
  /** busy, steal, idle and iowait: the wall time of every CPU */
  total: number;
}

/** The aggregate `cpu` line of /proc/stat. */
export function parseMachineCpu(stat: string): MachineCpu {
  const fields = stat.split('\n', 1)[0].trim().split(/\s+/);
  // user nice system idle iowait irq softirq steal (guest time is counted in user already)
  const v = fields.slice(1, 9).map(Number);
  if (fields[0] !== 'cpu' || v.length < 8 || !v.every(Number.isInteger)) {
    throw new Error(`not the cpu line of /proc/stat: ${JSON.stringify(stat.slice(0, 80))}`);
  }
  const [user, nice, system, idle, iowait, irq, softirq, steal] = v.map((j) => j / USER_HZ);
  const busy = user + nice + system + irq + softirq;
  return { busy, steal, total: busy + steal + idle + iowait };
}

/** A process's CPU time so far in seconds, or null when /proc cannot say (not Linux, exited). */
export function processCpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    return parseProcessCpu(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** The machine's CPU time so far, or null without /proc/stat. */
export function machineCpu(): MachineCpu | null {
  try {
    return parseMachineCpu(readFileSync('/proc/stat', 'utf8'));
  } catch {
    return null;
  }
}

/** What a campaign round cost: each app's CPU seconds (its replicas together) and the machine's. */
export interface RoundCpu {
  byApp: Record<string, number>;
  /** busy / total over the round */
  machineBusy: number;
  /** steal / total over the round */
  machineSteal: number;
}

/** A reading of every worker and of the machine, to subtract from a later one. */
export interface CpuReading {
  byApp: Record<string, number>;
  machine: MachineCpu;
}

/** Reads the CPU time of `workers` (pid and app), or null when any cannot be read. */
export function readCpu(
  workers: ReadonlyArray<{ pid: number | undefined; app: string }>,
): CpuReading | null {
  const machine = machineCpu();
  if (!machine) return null;
  const byApp: Record<string, number> = {};
  for (const w of workers) {
    const secs = processCpuSeconds(w.pid);
    if (secs === null) return null;
    byApp[w.app] = (byApp[w.app] ?? 0) + secs;
  }
  return { byApp, machine };
}

/** What was spent between two readings (null if either is). */
export function cpuBetween(a: CpuReading | null, b: CpuReading | null): RoundCpu | null {
  if (!a || !b) return null;
  const total = b.machine.total - a.machine.total;
  if (total <= 0) return null;
  const byApp: Record<string, number> = {};
  for (const app of Object.keys(b.byApp)) {
    byApp[app] = Number((b.byApp[app] - (a.byApp[app] ?? 0)).toFixed(2));
  }
  return {
    byApp,
    machineBusy: Number(((b.machine.busy - a.machine.busy) / total).toFixed(3)),
    machineSteal: Number(((b.machine.steal - a.machine.steal) / total).toFixed(3)),
  };
}
