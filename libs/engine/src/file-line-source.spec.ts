import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logHashOf } from '@mnsim/events';
import { resolveScenario } from '@mnsim/scenarios';
import { SyncSourceError, openSyncLineSource } from './file-line-source.js';
import { LogFile, recordLogFile } from './log-file.js';
import { verifyInLockstep } from './replay.js';

let dir: string;
let n = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mnsim-sync-lines-'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(text: string): string {
  const path = join(dir, `f-${n++}.jsonl`);
  writeFileSync(path, text);
  return path;
}

/** Whether the file's event lines are exactly `lines`, through expectLine/expectEnd. */
function holds(path: string, lines: string[], maxLineBytes = 64 << 20): boolean {
  const source = openSyncLineSource(path, maxLineBytes);
  try {
    for (const l of lines) source.expectLine(l);
    return source.expectEnd();
  } finally {
    source.close();
  }
}

describe('openSyncLineSource', () => {
  const long = 'é'.repeat(5 * 1024 * 1024); // 10 MiB of UTF-8: longer than a read block

  it('takes every line after the header: empty ones, one longer than a block, a last one without "\\n"', () => {
    expect(holds(file(`header\na\n${long}\n\nb`), ['a', long, '', 'b'])).toBe(true);
    expect(holds(file('header\na\nb\n'), ['a', 'b'])).toBe(true);
    expect(holds(file('header only'), [])).toBe(true);
    expect(holds(file('header\n'), [])).toBe(true);
  });

  it('hashes the lines off the main thread exactly as logHash is defined', async () => {
    for (const [text, lines] of [
      [`header\na\n${long}\n\nb`, ['a', long, '', 'b']],
      ['header\na\nb\n', ['a', 'b']],
      ['h\n', []],
    ] as const) {
      const source = openSyncLineSource(file(text), 64 << 20);
      source.close();
      expect(await source.digest).toEqual({ logHash: logHashOf(lines), lines: lines.length });
    }
  });

  it('expectLine/expectEnd: the log holds exactly the expected lines, compared as bytes', () => {
    const text = `h\nalpha\n${long}\nomega`;
    const expect1 = (lines: string[]): boolean => holds(file(text), lines);
    expect(expect1(['alpha', long, 'omega'])).toBe(true); // a last line without "\n" too
    expect(expect1(['alpha', long.slice(1) + 'x', 'omega'])).toBe(false);
    expect(expect1(['alpha', long])).toBe(false); // the log goes on
    expect(expect1(['alpha', long, 'omega', ''])).toBe(false); // the log ends early
    expect(expect1(['alpha', long, 'omeg'])).toBe(false);
    expect(expect1(['alph', 'a', long, 'omega'])).toBe(false); // same bytes but one "\n" more
  });

  it('refuses a header line longer than the limit, and compares event lines of any length', () => {
    const huge = 'x'.repeat(20 << 20);
    expect(() => openSyncLineSource(file(`${huge}\na\n`), 16 << 20)).toThrow(SyncSourceError);
    expect(holds(file(`h\n${huge}\n`), [huge], 16 << 20)).toBe(true);
  });
});

describe('verifyInLockstep', () => {
  async function recorded(): Promise<string> {
    const path = join(dir, `log-${n++}.jsonl`);
    await recordLogFile(resolveScenario('oom-reap-arm64').scenario, path, { runId: 'r' });
    return path;
  }

  async function lockstep(path: string) {
    const log = await LogFile.open(path);
    const s = log.start;
    return verifyInLockstep(log, log.syncLines(), s.scenario, s.seed, s.kernel);
  }

  it('verifies a recorded log without hashing on the main thread: the lines hash is the logHash', async () => {
    const path = await recorded();
    const result = await lockstep(path);
    expect(result?.logHash).toBe((await LogFile.open(path)).logHash);
    expect(result?.violations.length).toBeGreaterThan(0);
  });

  it('gives up (null, for the checked path to report) on any difference', async () => {
    const path = await recorded();
    const [head, ...events] = readFileSync(path, 'utf8').trimEnd().split('\n');
    // each a consistent log (its header re-hashed) that the model does not produce
    const consistent = (lines: string[]): string[] => [
      JSON.stringify({ ...JSON.parse(head), events: lines.length, logHash: logHashOf(lines) }),
      ...lines,
    ];
    const variants = {
      'a changed line': consistent(
        events.map((l, i) => (i === 5 ? l.replace('"jiffies":', '"jiffies": ') : l)),
      ),
      'a line missing': consistent(events.slice(0, -1)),
      'an extra line': consistent([...events, events[events.length - 1]]),
      'a wrong header hash': [
        JSON.stringify({ ...JSON.parse(head), logHash: `sha256:${'0'.repeat(64)}` }),
        ...events,
      ],
    };
    for (const [what, lines] of Object.entries(variants)) {
      expect(await lockstep(file(lines.join('\n') + '\n')), what).toBeNull();
    }
    // the same log without its last "\n" is the same log
    expect(await lockstep(file([head, ...events].join('\n')))).not.toBeNull();
  });
});
