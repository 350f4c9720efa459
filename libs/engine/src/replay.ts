/**
 * Replay: re-execute a recorded run from its run.start (scenario, variant, seed) and compare the
 * result with the recorded log, the way Temporal's replayer checks a workflow history.
 *
 * - verify (same variant): the logs must be identical; report the first divergent event.
 * - counterfactual (another variant): "would the fix have caught this?" — the violations the other
 *   variant adds and removes. run.start necessarily names the other variant, so the comparison of
 *   the logs (`matches`, `firstDivergence`) treats seq 0 as the recorded one.
 *
 * The lines compared are the log's (format 2: definitions and events). Comparing a million
 * events one by one would mean decoding every recorded line. Instead both sides are cut into
 * chunks of {@link CHUNK_LINES} lines and only the chunks' SHA-256 digests are compared; the first
 * chunk that differs is then re-simulated and compared line by line, and the events at the first
 * line that differs are expanded for the report. A recorded line that matches the re-executed one
 * is well formed by construction, so the fast path never parses a line; the checks of a
 * malformed log run only when something differs.
 */
import { createHash, type Hash } from 'node:crypto';
import type { Arch, KernelVariant, Scenario } from '@mnsim/kernel';
import { scenarioFromData } from '@mnsim/scenarios';
import {
  type CanonicalEvent,
  LogExpander,
  type RunLimits,
  isEventLine,
  type Violation,
  violationWithSeq,
} from '@mnsim/events';
import type { ViolationRecord } from '@mnsim/kernel';
import type { RecordedLog, RunStart } from './recorded-log.js';
import { simulate, type SimulationResult } from './simulate.js';
import { type LinesDigest, type SyncLineSource, SyncSourceError } from './file-line-source.js';

/** Lines per compared chunk: well under a megabyte held at most, a few hundred digests per 1M events. */
export const CHUNK_LINES = 4096;

export interface Divergence {
  seq: number;
  /** the recorded event at seq; null when the recorded log ends before it */
  expected: CanonicalEvent | null;
  /** the re-executed event at seq; null when the re-execution ends before it */
  actual: CanonicalEvent | null;
}

export interface ViolationsDiff {
  /** violations of the replay that the recorded run does not have */
  added: Violation[];
  /** violations of the recorded run that the replay does not have */
  removed: Violation[];
}

/** `mnsim replay --json`, exactly the design's object. */
export interface ReplayReport {
  runId: string;
  /** the variant replayed on */
  kernel: KernelVariant;
  matches: boolean;
  /** the replay's logHash */
  logHash: string;
  /** the recorded logHash */
  expectedLogHash: string;
  firstDivergence: Divergence | null;
  /** the replay's violations */
  violations: Violation[];
  violationsDiff: ViolationsDiff;
}

export interface ReplayOutcome {
  mode: 'verify' | 'counterfactual';
  report: ReplayReport;
  /** what was recorded, for the human rendering */
  recorded: RunStart & { events: number };
  /** events of the re-execution */
  events: number;
  /** the architecture it was replayed on (the recorded one unless a counterfactual moved it) */
  arch: Arch;
}

export interface ReplayOptions {
  /** what the re-execution may produce, like a run (DEFAULT_RUN_LIMITS by default) */
  limits?: Readonly<RunLimits>;
}

/**
 * Replays a recorded log on `kernel` (default: the recorded variant, i.e. verify mode).
 * @throws the log's own errors for a malformed log (a file names its line), never a divergence;
 *   a RunLimitExceededError when the re-execution passes one of its limits
 */
export async function replayLog(
  log: RecordedLog,
  kernel?: KernelVariant,
  arch?: Arch,
  opts: ReplayOptions = {},
): Promise<ReplayOutcome> {
  const limits = opts.limits;
  const start = log.start;
  const target = kernel ?? start.kernel;
  const onArch = arch ?? start.arch;
  const mode = target === start.kernel && onArch === start.arch ? 'verify' : 'counterfactual';
  // a counterfactual run.start names the other variant or arch: compare the rest of the log
  const firstLine = mode === 'counterfactual' ? start.line : undefined;
  const scenario = onArch === start.arch ? start.scenario : scenarioOnArch(start, onArch);

  if (mode === 'verify' && log.syncLines) {
    const lockstep = await verifyInLockstep(
      log,
      log.syncLines(),
      scenario,
      start.seed,
      target,
      limits,
    );
    if (lockstep !== null)
      return outcome(mode, log, target, onArch, lockstep, null, lockstep.violations);
  }
  const sim = simulateChunks(scenario, start.seed, target, firstLine, limits);
  const replayHash = sim.result.logHash ?? '';

  if (mode === 'verify') {
    const fast = await scanLines(log.lines(), sim.digests, false);
    if (fast.firstBadChunk === null && fast.events === log.events && replayHash === log.logHash) {
      // every recorded line is the re-executed one, and the log's own claims hold
      return outcome(mode, log, target, onArch, sim.result, null, sim.result.violations);
    }
  }
  // something differs, or a counterfactual needs the recorded violations: read the log checked
  const scan = await scanLines(log.checkedLines(), sim.digests, true);
  const divergence =
    scan.firstBadChunk === null
      ? null
      : await locateDivergence(log, scenario, start.seed, target, firstLine, scan, limits);
  return outcome(mode, log, target, onArch, sim.result, divergence, scan.violations);
}

/**
 * The fastest verify: re-execute and compare every event with the recorded line as it is emitted,
 * while the log's lines are hashed on another thread. When every line is equal, the count is
 * right and the lines hash to the log's own logHash, that hash is the replay's too. Anything else
 * (a difference, a malformed log) returns null: the checked path then finds and reports it.
 */
export async function verifyInLockstep(
  log: RecordedLog,
  source: SyncLineSource,
  scenario: Scenario,
  seed: number,
  kernel: KernelVariant,
  limits?: Readonly<RunLimits>,
): Promise<SimulationResult | null> {
  let result: SimulationResult;
  let same: boolean;
  let lines = 0;
  try {
    result = simulate(scenario, {
      kernel,
      seed,
      limits,
      keepKernelLog: false,
      hashLog: false,
      onLine: (line) => {
        lines++;
        source.expectLine(line);
      },
    });
    same = source.expectEnd();
  } catch (err) {
    if (!(err instanceof SyncSourceError)) throw err;
    return null;
  } finally {
    source.close();
  }
  let digest: LinesDigest;
  try {
    digest = await source.digest;
  } catch {
    return null;
  }
  if (!same || digest.lines !== lines || result.events !== log.events) return null;
  if (digest.logHash !== log.logHash) return null;
  return { ...result, logHash: digest.logHash };
}

function outcome(
  mode: ReplayOutcome['mode'],
  log: RecordedLog,
  kernel: KernelVariant,
  arch: Arch,
  result: SimulationResult,
  firstDivergence: Divergence | null,
  recordedViolations: Violation[],
): ReplayOutcome {
  return {
    mode,
    report: {
      runId: log.runId,
      kernel,
      matches: firstDivergence === null,
      logHash: result.logHash ?? '',
      expectedLogHash: log.logHash,
      firstDivergence,
      violations: result.violations,
      violationsDiff: diffViolations(recordedViolations, result.violations),
    },
    recorded: { ...log.start, events: log.events },
    events: result.events,
    arch,
  };
}

/** A divergence, and the index of the first log line (after the header) that differs. */
export interface LocatedDivergence extends Divergence {
  lineIndex: number;
}

/**
 * The first event at which a log differs from a re-execution on its recorded variant, reading the
 * lines unchecked. For `mnsim import` to name the line of a log whose hash does not hold.
 */
export async function firstDifferenceFromModel(
  log: RecordedLog,
  limits?: Readonly<RunLimits>,
): Promise<LocatedDivergence | null> {
  const { scenario, seed, kernel } = log.start;
  const sim = simulateChunks(scenario, seed, kernel, undefined, limits);
  const scan = await scanLines(log.lines(), sim.digests, false);
  return scan.firstBadChunk === null
    ? null
    : locateDivergence(log, scenario, seed, kernel, undefined, scan, limits);
}

/**
 * Matches violations between a recorded run and a replay. Two violations are the same when they
 * happened at the same jiffy, in the same task (pid, comm), with the same signature and source
 * stack; the n-th of the recorded ones with a given key matches the n-th of the replayed ones.
 * Not compared: seq (another variant emits other events before it), site (the patched file's line
 * numbers move: mmu.c:394 vs 395), `reported` (the rate limit depends on the violations before),
 * `text` (it holds the site) and the context counts (inAtomic, nonBlock...), which describe the
 * violation rather than identify it.
 */
export function diffViolations(recorded: Violation[], replayed: Violation[]): ViolationsDiff {
  const key = (v: Violation): string =>
    JSON.stringify([v.jiffies, v.pid, v.comm, v.signature, v.stack]);
  const unmatched = (from: Violation[], against: Violation[]): Violation[] => {
    const available = new Map<string, number>();
    for (const v of against) available.set(key(v), (available.get(key(v)) ?? 0) + 1);
    return from.filter((v) => {
      const n = available.get(key(v)) ?? 0;
      if (n === 0) return true;
      available.set(key(v), n - 1);
      return false;
    });
  };
  return { added: unmatched(replayed, recorded), removed: unmatched(recorded, replayed) };
}

/** SHA-256 digests of consecutive chunks of CHUNK_LINES lines, each line followed by "\n". */
class ChunkDigester {
  readonly digests: string[] = [];
  private hash: Hash = createHash('sha256');
  private pending = '';
  private inChunk = 0;

  /** Adds a line; true when it completed a chunk. */
  add(line: string): boolean {
    this.pending += line + '\n';
    if (++this.inChunk === CHUNK_LINES) {
      this.close();
      return true;
    }
    if (this.pending.length > 64 * 1024) {
      this.hash.update(this.pending);
      this.pending = '';
    }
    return false;
  }

  /** Closes a last, partial chunk; true if there was one. */
  finish(): boolean {
    if (this.inChunk === 0) return false;
    this.close();
    return true;
  }

  private close(): void {
    this.hash.update(this.pending);
    this.digests.push(this.hash.digest('base64'));
    this.hash = createHash('sha256');
    this.pending = '';
    this.inChunk = 0;
  }
}

/**
 * The re-execution's lines, with the line of its run.start replaced by the recorded one (a
 * counterfactual's run.start names the other variant or arch; the rest is compared).
 */
function linesOf(firstLine: string | undefined, each: (line: string) => void) {
  let first = true;
  return (line: string): void => {
    if (first && firstLine !== undefined && isEventLine(line)) {
      first = false;
      each(firstLine);
      return;
    }
    each(line);
  };
}

/**
 * The recorded stimuli on another architecture: the same processes, memory and steps with
 * host.arch changed (and ipaBits, which only arm64 has, back to its default), validated again.
 * A scenario the other arch cannot run (a page size it does not have, a guest above its IPA
 * range) is refused with the field and the reason.
 */
export function scenarioOnArch(start: RunStart, arch: Arch): Scenario {
  const s = start.scenario;
  const moved = {
    ...s,
    host: { ...s.host, arch },
    processes: s.processes.map((p) => ({
      ...p,
      vms: p.vms.map((vm) => ({ ...vm, ipaBits: arch === 'arm64' ? vm.ipaBits : 40 })),
    })),
  };
  return scenarioFromData(moved, `${s.name} on ${arch}`);
}

function simulateChunks(
  scenario: Scenario,
  seed: number,
  kernel: KernelVariant,
  firstLine: string | undefined,
  limits: Readonly<RunLimits> | undefined,
): { digests: string[]; result: SimulationResult } {
  const digester = new ChunkDigester();
  const result = simulate(scenario, {
    kernel,
    seed,
    limits,
    keepKernelLog: false,
    onLine: linesOf(firstLine, (line) => digester.add(line)),
  });
  digester.finish();
  return { digests: digester.digests, result };
}

interface Scan {
  /** the log's lines, and of them its events */
  lines: number;
  events: number;
  /** index of the first chunk whose digest differs from the re-execution's; null: none */
  firstBadChunk: number | null;
  /** the recorded violations, when asked for */
  violations: Violation[];
}

async function scanLines(
  lines: AsyncIterable<string>,
  expectedDigests: string[],
  withViolations: boolean,
): Promise<Scan> {
  const digester = new ChunkDigester();
  const scan: Scan = { lines: 0, events: 0, firstBadChunk: null, violations: [] };
  // the violations are in the expanded events: every line is read for its definitions
  const expander = withViolations ? new LogExpander({ verify: false }) : null;
  const closed = (): void => {
    const i = digester.digests.length - 1;
    if (scan.firstBadChunk === null && digester.digests[i] !== expectedDigests[i]) {
      scan.firstBadChunk = i;
    }
  };
  for await (const line of lines) {
    scan.lines++;
    if (isEventLine(line)) scan.events++;
    const e = expander?.line(line);
    if (e?.type === 'violation') {
      const v = (e.payload as unknown as { violation: ViolationRecord }).violation;
      scan.violations.push(violationWithSeq(e.seq, v));
    }
    if (digester.add(line)) closed();
  }
  if (digester.finish()) closed();
  // the re-execution has more chunks: the recorded log ends early
  if (scan.firstBadChunk === null && digester.digests.length < expectedDigests.length) {
    scan.firstBadChunk = digester.digests.length;
  }
  return scan;
}

/**
 * Re-simulates to find the first line of the chunk that differs from the recorded one, then
 * expands the events there, both sides: the report shows events, never the log's ids.
 */
async function locateDivergence(
  log: RecordedLog,
  scenario: Scenario,
  seed: number,
  kernel: KernelVariant,
  firstLine: string | undefined,
  scan: Scan,
  limits: Readonly<RunLimits> | undefined,
): Promise<LocatedDivergence | null> {
  const from = (scan.firstBadChunk ?? 0) * CHUNK_LINES;
  /** the chunk's re-executed lines, and before each how many events the run had emitted */
  const replayed: string[] = [];
  const eventsBefore: number[] = [];
  const replayedEvents: CanonicalEvent[] = [];
  const expander = new LogExpander({ verify: false });
  let index = 0;
  simulate(scenario, {
    kernel,
    seed,
    limits,
    keepKernelLog: false,
    onLine: linesOf(firstLine, (line) => {
      if (index >= from && index < from + CHUNK_LINES) {
        replayed.push(line);
        eventsBefore.push(replayedEvents.length);
      }
      const e = expander.line(line);
      if (e !== null) replayedEvents.push(e);
      index++;
    }),
  });
  // the first recorded line of the chunk that differs, then the recorded events up to its own
  const recordedEvents: CanonicalEvent[] = [];
  const recorded = new LogExpander({ verify: false });
  let at: number | null = null;
  let seq = -1;
  let i = 0;
  for await (const line of log.lines()) {
    if (at === null && i >= from && line !== replayed[i - from]) {
      at = i;
      seq = i - from < eventsBefore.length ? eventsBefore[i - from] : replayedEvents.length;
    }
    i++;
    let e: CanonicalEvent | null;
    try {
      e = recorded.line(line);
    } catch {
      break; // a line that does not expand: the recorded events end here
    }
    if (e !== null) recordedEvents.push(e);
    if (at !== null && recordedEvents.length > seq) break;
  }
  if (at === null) {
    // the recorded log ends before the re-execution, or every line is the same
    if (i - from >= replayed.length) return null;
    at = i;
    seq = eventsBefore[i - from];
  }
  return {
    seq,
    expected: recordedEvents[seq] ?? null,
    actual: replayedEvents[seq] ?? null,
    lineIndex: at,
  };
}
