/**
 * Replay speed, the design's `replay.eventsPerSec`: verify-mode replay of a JSON Lines log of at
 * least 1,000,000 events (one run), read from a file, in events per second. The timed part is what
 * `mnsim replay log.jsonl` does: open and check the header and run.start, re-execute the run, and
 * compare it with the file.
 *
 * The workload is one long arm64 run: a qemu process with four VMs on the same 3 GiB of guest RAM
 * (so every invalidation fans out to four KVM subscribers), tens of thousands of mprotects,
 * migrations and mmap_lock holds, then an OOM kill and the oom_reaper's BUG on 5.8.
 *
 * Also reported, for context, two upper bounds of the replay rate measured in the same run:
 * - the re-execution alone (simulate with its events encoded and hashed, as every faithful replay
 *   must);
 * - SHA-256 over the log's event lines: the replay's logHash is by definition the SHA-256 of
 *   every line, a hash no thread can split, so no replay can be faster than one core hashing the
 *   file. On a CPU without SHA instructions this is the tighter bound.
 */
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogFile, recordLogFile, replayLog, simulate } from '@mnsim/engine';
import type { Scenario } from '@mnsim/kernel';
import { scenarioFromData } from '@mnsim/scenarios';
import { NO_RUN_LIMITS } from '@mnsim/events';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const GUEST_RAM = 0x40000000;
const VMS = 4;
/** events per step of this workload, measured: ~14.7 */
const EVENTS_PER_STEP = 14;

export interface ReplayBenchResult {
  /** replayed events per second, verify mode, from the file */
  eventsPerSec: number;
  /** events in the log */
  events: number;
  secs: number;
  /** the re-execution alone (simulate, events encoded and hashed): a ceiling of eventsPerSec */
  simulateEventsPerSec: number;
  /** SHA-256 of the log file's bytes on one core, in the log's events per second: a ceiling too */
  hashEventsPerSec: number;
  /** the log file's size */
  bytes: number;
  /** the log's bytes per event (format 2: its definitions included) */
  bytesPerEvent: number;
}

/** The benchmark's run: `steps` invalidating steps on a guest with VMS VMs. */
export function replayBenchScenario(steps: number): Scenario {
  const list: object[] = [];
  for (let v = 0; v < VMS; v++) list.push({ at: 0, do: 'fault-in', vm: `guest${v}` });
  let at = 1;
  for (let i = 0; i < steps; i++) {
    const start = GUEST_RAM + ((i * 7) % 1536) * 2 * MiB;
    switch (i % 4) {
      case 0:
      case 2:
        list.push({ at, do: 'mprotect', pid: 1200, start, size: 2 * MiB * (1 + (i % 8)) });
        break;
      case 1:
        list.push({ at, do: 'migrate', pid: 1200, start, size: 2 * MiB });
        break;
      default:
        list.push({ at, do: 'hold-mmap-lock', pid: 1200, for: 1 });
    }
    at += 2;
  }
  list.push({ at: at + 10, do: 'allocate', pid: 1300, size: 6 * GiB });
  list.push({ at: at + 500, do: 'exit', pid: 1200 });
  return scenarioFromData(
    {
      name: 'replay-bench',
      description: `replay benchmark: ${steps} invalidations fanned out to ${VMS} VMs, then the OOM reaper`,
      kernel: '5.8',
      seed: 1,
      hz: 250,
      host: { arch: 'arm64', memory: 8 * GiB, pageSize: 4096 },
      processes: [
        {
          pid: 1200,
          comm: 'qemu-system-aarch64',
          vmas: [{ start: GUEST_RAM, size: 3 * GiB, anon: true }],
          vms: Array.from({ length: VMS }, (_, v) => ({
            name: `guest${v}`,
            memslots: [{ gpa: GUEST_RAM, hva: GUEST_RAM, size: 3 * GiB }],
          })),
        },
        {
          pid: 1300,
          comm: 'stress-ng',
          oomScoreAdj: -1000,
          vmas: [{ start: 0x100000000, size: 6 * GiB, anon: true }],
        },
      ],
      steps: list,
    },
    'replay-bench',
  );
}

function seconds(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function replayFile(file: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  const log = await LogFile.open(file);
  const { report } = await replayLog(log, undefined, undefined, { limits: NO_RUN_LIMITS }).finally(
    () => log.close(),
  );
  const secs = seconds(t0);
  if (!report.matches) {
    throw new Error(`replay benchmark: the replay diverged at seq ${report.firstDivergence?.seq}`);
  }
  return secs;
}

/** Seconds to SHA-256 a whole file, read in blocks as the replay's hashing thread reads it. */
function hashFileSecs(file: string): { secs: number; bytes: number } {
  const t0 = process.hrtime.bigint();
  const fd = openSync(file, 'r');
  const buf = Buffer.allocUnsafe(8 << 20);
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) {
      hash.update(buf.subarray(0, n));
      bytes += n;
    }
    hash.digest();
  } finally {
    closeSync(fd);
  }
  return { secs: seconds(t0), bytes };
}

export async function benchReplay(
  opts: { minEvents?: number; log?: (msg: string) => void } = {},
): Promise<ReplayBenchResult> {
  const minEvents = opts.minEvents ?? 1_000_000;
  const log = opts.log ?? ((): void => undefined);
  const dir = mkdtempSync(join(tmpdir(), 'mnsim-replay-bench-'));
  try {
    // warm-up: the same code paths on a small log
    const small = join(dir, 'warm-up.jsonl');
    // past the default 4 MiB of log too: no limits, as for the measured log
    await recordLogFile(replayBenchScenario(2000), small, {
      runId: 'warm-up',
      limits: NO_RUN_LIMITS,
    });
    await replayFile(small);

    const scenario = replayBenchScenario(Math.ceil(minEvents / EVENTS_PER_STEP));
    const file = join(dir, 'replay-bench.jsonl');
    log(`replay: writing a log of at least ${minEvents} events…`);
    const { header } = await recordLogFile(scenario, file, {
      runId: 'replay-bench',
      limits: NO_RUN_LIMITS,
    });
    if (header.events < minEvents) {
      throw new Error(
        `replay benchmark: the log has ${header.events} events, fewer than ${minEvents}`,
      );
    }
    log(`replay: verifying ${header.events} events from ${file}…`);
    const secs = await replayFile(file);

    const t0 = process.hrtime.bigint();
    simulate(scenario, { keepKernelLog: false, limits: NO_RUN_LIMITS });
    const simulateSecs = seconds(t0);
    const hashed = hashFileSecs(file);
    log(
      `replay: ${secs.toFixed(2)} s; the re-execution alone: ${simulateSecs.toFixed(2)} s; ` +
        `SHA-256 of the ${(hashed.bytes / MiB).toFixed(0)} MiB file: ${hashed.secs.toFixed(2)} s`,
    );
    return {
      eventsPerSec: Math.round(header.events / secs),
      events: header.events,
      secs: Number(secs.toFixed(3)),
      simulateEventsPerSec: Math.round(header.events / simulateSecs),
      hashEventsPerSec: Math.round(header.events / hashed.secs),
      bytes: hashed.bytes,
      bytesPerEvent: Number((hashed.bytes / header.events).toFixed(1)),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
