import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { NO_RUN_LIMITS } from '@mnsim/events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CanonicalEvent,
  LogInterner,
  type Violation,
  canonicalEventLine,
  expandLines,
  logHashOf,
} from '@mnsim/events';
import { generateScenario, resolveScenario } from '@mnsim/scenarios';
import { LogFile, LogFileError, recordLogFile } from './log-file.js';
import { CHUNK_LINES, diffViolations, replayLog } from './replay.js';

let dir: string;
let n = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mnsim-replay-'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function recorded(name: string, kernel?: '5.8' | '5.8+flags' | '5.8+fix'): Promise<string> {
  const path = join(dir, `log-${n++}.jsonl`);
  await recordLogFile(resolveScenario(name).scenario, path, { runId: `r${n}`, kernel });
  return path;
}

/**
 * A copy of the log with its events edited (as format 1 lines: whole events) and the log made
 * consistent again: interned anew, the header's count and hash its own.
 */
function rewritten(path: string, edit: (events: string[]) => string[]): string {
  const [head, ...lines] = readFileSync(path, 'utf8').trimEnd().split('\n');
  const header = JSON.parse(head);
  const events = edit(expandLines(lines).map(canonicalEventLine));
  const out = LogInterner.lines(events.map((l) => JSON.parse(l) as CanonicalEvent));
  header.events = events.length;
  header.logHash = logHashOf(out);
  const copy = join(dir, `log-${n++}.jsonl`);
  writeFileSync(copy, [JSON.stringify(header), ...out].join('\n') + '\n');
  return copy;
}

/** Changes the envelope's jiffies of the event at `seq`: still a canonical, well-formed line. */
function bumpJiffies(events: string[], seq: number): string[] {
  return events.map((l, i) =>
    i === seq
      ? l.replace(
          /^(\{"causationId":[^,]+,"id":"[^"]+","jiffies":)(\d+)/,
          (_m, p: string, j: string) => `${p}${Number(j) + 1000}`,
        )
      : l,
  );
}

const v = (over: Partial<Violation>): Violation => ({
  seq: 10,
  kind: 'atomic-sleep',
  jiffies: 10,
  site: 'arch/arm64/kvm/mmu.c:394',
  inAtomic: 1,
  irqsDisabled: 0,
  nonBlock: 1,
  pid: 36,
  comm: 'oom_reaper',
  reported: true,
  signature: 'BUG: sleeping function called from invalid context in unmap_stage2_range',
  stack: ['___might_sleep', 'unmap_stage2_range'],
  text: 'BUG…',
  ...over,
});

describe('diffViolations', () => {
  it('matches by jiffy, task, signature and stack, ignoring seq, site and the rate limit', () => {
    const recorded = [v({}), v({ seq: 20, reported: false })];
    const replayed = [v({ seq: 12, site: 'arch/arm64/kvm/mmu.c:395' }), v({ seq: 25 })];
    expect(diffViolations(recorded, replayed)).toEqual({ added: [], removed: [] });
  });

  it('pairs the n-th occurrences of a key, so a third one is added', () => {
    const recorded = [v({}), v({ seq: 20 })];
    const replayed = [v({}), v({ seq: 20 }), v({ seq: 30 })];
    expect(diffViolations(recorded, replayed)).toEqual({ added: [v({ seq: 30 })], removed: [] });
  });

  it('tells violations apart by jiffy, task and stack', () => {
    const recorded = [v({ jiffies: 9 }), v({ pid: 37 }), v({ stack: ['x'] })];
    const replayed = [v({})];
    expect(diffViolations(recorded, replayed)).toEqual({ added: [v({})], removed: recorded });
  });
});

describe('replayLog on a log file', () => {
  it('verify: a recorded log matches its re-execution', async () => {
    const log = await LogFile.open(await recorded('oom-reap-arm64'));
    const o = await replayLog(log);
    expect(o.mode).toBe('verify');
    expect(o.report).toMatchObject({
      runId: log.runId,
      kernel: '5.8',
      matches: true,
      logHash: log.logHash,
      expectedLogHash: log.logHash,
      firstDivergence: null,
      violationsDiff: { added: [], removed: [] },
    });
    expect(o.report.violations).toHaveLength(2);
  });

  it('verify: a changed event is the first divergence, with both events', async () => {
    const path = rewritten(await recorded('oom-reap-arm64'), (ev) => bumpJiffies(ev, 17));
    const o = await replayLog(await LogFile.open(path));
    expect(o.report.matches).toBe(false);
    expect(o.report.firstDivergence?.seq).toBe(17);
    const { expected, actual } = o.report.firstDivergence!;
    expect(expected!.jiffies).toBe(actual!.jiffies + 1000);
    expect({ ...expected, jiffies: 0 }).toEqual({ ...actual, jiffies: 0 });
    expect(o.report.logHash).not.toBe(o.report.expectedLogHash);
  });

  it('verify: finds the divergent event past the first chunks of a long log, and a log that ends early', async () => {
    const { scenario } = generateScenario(7, 0, {
      mix: 'invalidations',
      steps: 3000,
      arches: ['arm64'],
    });
    const path = join(dir, `long-${n++}.jsonl`);
    // longer than a run may be by default (MNSIM_MAX_RUN_BYTES): the limits are the caller's
    const limits = NO_RUN_LIMITS;
    const { result } = await recordLogFile(scenario, path, { runId: 'long', limits });
    expect(result.events).toBeGreaterThan(2 * CHUNK_LINES + 100);
    const seq = 2 * CHUNK_LINES + 57;
    const changed = await replayLog(
      await LogFile.open(rewritten(path, (ev) => bumpJiffies(ev, seq))),
      undefined,
      undefined,
      { limits },
    );
    expect(changed.report.firstDivergence?.seq).toBe(seq);

    // a log cut short (and re-hashed) diverges where it stops: the replay goes on, the log does not
    const cut = CHUNK_LINES + 3;
    const short = await replayLog(
      await LogFile.open(
        rewritten(path, (ev) => [
          ...ev.slice(0, cut),
          ev[ev.length - 1]
            .replace(/"seq":\d+/, `"seq":${cut}`)
            .replace(/"events":\d+/, `"events":${cut + 1}`),
        ]),
      ),
      undefined,
      undefined,
      { limits },
    );
    expect(short.report.firstDivergence?.seq).toBe(cut);
    expect(short.report.firstDivergence?.expected?.type).toBe('run.end');
  });

  it('verify: a seed changed in run.start (and the header, re-hashed) makes the model diverge later', async () => {
    const path = await recorded('rate-limit-arm64');
    const header = JSON.parse(readFileSync(path, 'utf8').split('\n')[0]);
    const seed = header.seed + 1;
    const copy = rewritten(path, (events) => [
      events[0].replace(/"seed":\d+/g, `"seed":${seed}`),
      ...events.slice(1),
    ]);
    const edited = readFileSync(copy, 'utf8').split('\n');
    writeFileSync(
      copy,
      [JSON.stringify({ ...JSON.parse(edited[0]), seed }), ...edited.slice(1)].join('\n'),
    );
    const o = await replayLog(await LogFile.open(copy));
    expect(o.report.matches).toBe(false);
    expect(o.report.firstDivergence?.seq).toBeGreaterThan(0);
  });

  it('verify: a log whose header hash is wrong is refused, not reported as a divergence', async () => {
    const path = await recorded('oom-reap-x86');
    const [head, ...events] = readFileSync(path, 'utf8').trimEnd().split('\n');
    const header = JSON.parse(head);
    header.logHash = 'sha256:' + '0'.repeat(64);
    const copy = join(dir, `hash-${n++}.jsonl`);
    writeFileSync(copy, [JSON.stringify(header), ...events].join('\n') + '\n');
    await expect(replayLog(await LogFile.open(copy))).rejects.toThrow(LogFileError);
    await expect(replayLog(await LogFile.open(copy))).rejects.toThrow(
      /logHash mismatch: header says sha256:0{64}/,
    );
  });

  it('counterfactual: the fix removes the recorded violations, the flags patch alone changes none', async () => {
    const log = await LogFile.open(await recorded('oom-reap-arm64'));
    const fixed = await replayLog(log, '5.8+fix');
    expect(fixed.mode).toBe('counterfactual');
    expect(fixed.report.kernel).toBe('5.8+fix');
    expect(fixed.report.violations).toEqual([]);
    expect(fixed.report.violationsDiff.added).toEqual([]);
    expect(fixed.report.violationsDiff.removed.map((x) => x.site)).toEqual([
      'arch/arm64/kvm/mmu.c:394',
      'arch/arm64/kvm/mmu.c:394',
    ]);
    expect(fixed.report.matches).toBe(false);

    const flags = await replayLog(log, '5.8+flags');
    expect(flags.report.violationsDiff).toEqual({ added: [], removed: [] });
    expect(flags.report.violations).toHaveLength(2);
  });
});
