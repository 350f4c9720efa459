import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalEventLine, expandLines, logHashOf } from '@mnsim/events';
import { resolveScenario } from '@mnsim/scenarios';
import { LOG_FORMAT, LogFile, LogFileError, fileLines, recordLogFile } from './log-file.js';

let dir: string;
/** the log as recordLogFile writes it: format 2 */
let recorded: string;
let recordedLines: string[];
/** the same log in version 1 (what `mnsim export --expand` writes), which most cases edit */
let good: string;
let lines: string[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mnsim-log-file-'));
  recorded = join(dir, 'recorded.jsonl');
  await recordLogFile(resolveScenario('oom-reap-arm64').scenario, recorded, { runId: 'run-1' });
  recordedLines = readFileSync(recorded, 'utf8').trimEnd().split('\n');
  const events = expandLines(recordedLines.slice(1)).map(canonicalEventLine);
  const header = { ...JSON.parse(recordedLines[0]), version: 1, logHash: logHashOf(events) };
  lines = [JSON.stringify(header), ...events];
  good = join(dir, 'good.jsonl');
  writeFileSync(good, lines.join('\n') + '\n');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** Writes `text` to a new file and returns its path. */
function file(text: string): string {
  const path = join(dir, `case-${n++}.jsonl`);
  writeFileSync(path, text);
  return path;
}

/** The good log with its event lines edited, the header's count and hash recomputed. */
function edited(edit: (events: string[]) => string[], rehash = true): string {
  const header = JSON.parse(lines[0]);
  const events = edit(lines.slice(1));
  if (rehash) {
    header.events = events.length;
    header.logHash = logHashOf(events);
  }
  return file([JSON.stringify(header), ...events].join('\n') + '\n');
}

async function check(path: string): Promise<number> {
  const log = await LogFile.open(path);
  let count = 0;
  try {
    for await (const e of log.checkedEvents()) {
      expect(e.event.seq).toBe(count);
      count++;
    }
  } finally {
    await log.close();
  }
  return count;
}

async function refusal(path: string): Promise<string> {
  try {
    await check(path);
  } catch (err) {
    expect(err).toBeInstanceOf(LogFileError);
    expect((err as LogFileError).exitCode).toBe(2);
    return (err as Error).message.replace(path, 'log.jsonl');
  }
  throw new Error('the log was accepted');
}

describe('log files', () => {
  it('recordLogFile writes a header and the format 2 log, which check as a whole', async () => {
    const header = JSON.parse(recordedLines[0]);
    expect(Object.keys(header)).toEqual([
      'format',
      'version',
      'runId',
      'scenario',
      'kernel',
      'arch',
      'seed',
      'events',
      'logHash',
    ]);
    expect(header).toMatchObject({ format: LOG_FORMAT, version: 2, runId: 'run-1', kernel: '5.8' });
    expect(recordedLines.filter((l) => l.startsWith('[')).length).toBe(header.events);
    expect(logHashOf(recordedLines.slice(1))).toBe(header.logHash);
    expect(await check(recorded)).toBe(header.events);
    const log = await LogFile.open(recorded);
    let violations = 0;
    for await (const e of log.checkedEvents()) if (e.violation) violations++;
    expect(violations).toBe(2);
    expect(log.start).toMatchObject({ kernel: '5.8', seed: 1, arch: 'arm64' });
    expect(log.start.scenario).toEqual(resolveScenario('oom-reap-arm64').scenario);
  });

  it('reads a last line without "\\n", and lines longer than a read chunk', async () => {
    const long = 'x'.repeat(3 * 1024 * 1024);
    const read: string[] = [];
    for await (const l of fileLines(file(`a\n${long}\n\nb`))) read.push(l);
    expect(read).toEqual(['a', long, '', 'b']);
    expect(await check(file(lines.join('\n')))).toBe(lines.length - 1);
  });

  it.each([
    ['', 'log.jsonl: empty file: expected an mnsim-log header line'],
    ['hello\n', 'log.jsonl:1: not an mnsim-log file: the first line is not a JSON header'],
    [
      '{"format":"other"}\n',
      'log.jsonl:1: not an mnsim-log file: the header has no "format":"mnsim-log"',
    ],
    [
      '{"format":"mnsim-log","version":3}\n',
      'log.jsonl:1: mnsim-log version 3 is not supported (this mnsim reads versions 1 and 2)',
    ],
  ])('refuses a bad header: %j', async (text, message) => {
    const path = file(text);
    await expect(LogFile.open(path)).rejects.toThrow(message.replace('log.jsonl', path));
  });

  it('refuses a header without a valid logHash', async () => {
    const header = JSON.parse(lines[0]);
    header.logHash = 'md5:00';
    const path = file([JSON.stringify(header), ...lines.slice(1)].join('\n'));
    await expect(LogFile.open(path)).rejects.toThrow(
      `${path}:1: header: logHash: expected sha256:`,
    );
  });

  // issue 15, finding 3: a header id holding ESC and a newline printed a forged line; a
  // 100,000-character id was stored; the API's own pattern could not address such runs
  it.each([
    ['FORGED\x1b[0m\nmnsim: imported run FORGED'],
    ['x'.repeat(101)],
    ['run:1'],
    ['..'],
    ['-rf'],
    [''],
  ])('refuses a header whose runId is not a run id: %j', async (runId) => {
    const header = JSON.parse(lines[0]);
    header.runId = runId;
    const path = file([JSON.stringify(header), ...lines.slice(1)].join('\n'));
    const err: unknown = await LogFile.open(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LogFileError);
    expect((err as LogFileError).exitCode).toBe(2);
    expect((err as Error).message).toBe(
      `${path}:1: header: runId: must be 1 to 100 letters, digits, ".", "_" or "-", the first a letter or a digit`,
    );
  });

  it('refuses a first line longer than a header can be, reading no further', async () => {
    const header = JSON.parse(lines[0]);
    header.runId = 'x'.repeat(200_000);
    const path = file([JSON.stringify(header), ...lines.slice(1)].join('\n'));
    await expect(LogFile.open(path)).rejects.toThrow(
      `${path}:1: not an mnsim-log file: the first line is longer than 65536 bytes`,
    );
  });

  it('refuses a missing file by name', async () => {
    await expect(LogFile.open(join(dir, 'nope.jsonl'))).rejects.toThrow(
      /nope\.jsonl: no such file$/,
    );
  });

  it('names the line of a gap in seq', async () => {
    expect(await refusal(edited((ev) => [...ev.slice(0, 14), ...ev.slice(15)]))).toBe(
      'log.jsonl:16: seq 15 follows 13 (gap)',
    );
  });

  it('names the line of a repeated or out-of-order seq', async () => {
    expect(await refusal(edited((ev) => [...ev.slice(0, 6), ev[4], ...ev.slice(6)]))).toBe(
      'log.jsonl:8: seq 4 follows 5 (out of order)',
    );
  });

  it('says how many events a truncated file has', async () => {
    const total = lines.length - 1;
    expect(await refusal(edited((ev) => ev.slice(0, 20), false))).toBe(
      `log.jsonl:22: expected ${total} events, found 20`,
    );
  });

  it('refuses more events than the header says', async () => {
    const header = JSON.parse(lines[0]);
    header.events = 10;
    const path = file([JSON.stringify(header), ...lines.slice(1)].join('\n'));
    expect(await refusal(path)).toBe(
      'log.jsonl:12: expected 10 events, found more (the header says 10)',
    );
  });

  it('refuses a line that is not JSON, or not canonical', async () => {
    expect(await refusal(edited((ev) => ev.map((l, i) => (i === 3 ? l.slice(0, -1) : l))))).toMatch(
      /^log\.jsonl:5: not JSON/,
    );
    expect(
      await refusal(edited((ev) => ev.map((l, i) => (i === 3 ? l.replace(':', ': ') : l)))),
    ).toBe(
      'log.jsonl:5: not in canonical form (keys in code-point order, no whitespace, canonical numbers)',
    );
    expect(await refusal(edited((ev) => ev.map((l, i) => (i === 3 ? '' : l))))).toBe(
      'log.jsonl:5: empty line',
    );
  });

  it('refuses a repeated id and a causationId naming no earlier event', async () => {
    const repeated = edited((ev) =>
      ev.map((l, i) => {
        if (i !== 5) return l;
        const e = JSON.parse(l);
        return l.replace(
          `"id":${JSON.stringify(e.id)}`,
          `"id":${JSON.stringify(JSON.parse(ev[4]).id)}`,
        );
      }),
    );
    expect(await refusal(repeated)).toMatch(/^log\.jsonl:7: id "[^"]+" repeats line 6$/);
    const orphan = edited((ev) =>
      ev.map((l, i) => (i === 5 ? l.replace(/"causationId":"[^"]+"/, '"causationId":"zz"') : l)),
    );
    expect(await refusal(orphan)).toBe('log.jsonl:7: causationId "zz" names no earlier event');
  });

  it('refuses a run.start whose scenario is invalid, naming the field', async () => {
    const path = edited((ev) => [
      ev[0].replace('"pageSize":4096', '"pageSize":12345'),
      ...ev.slice(1),
    ]);
    await expect(LogFile.open(path)).rejects.toThrow(
      new RegExp(`^${path}:2: run\\.start: the scenario is invalid: host\\.pageSize: `),
    );
  });

  it('refuses a run.start that disagrees with the header', async () => {
    const header = JSON.parse(lines[0]);
    header.seed = 2;
    const path = file([JSON.stringify(header), ...lines.slice(1)].join('\n'));
    await expect(LogFile.open(path)).rejects.toThrow(
      `${path}:2: run.start's seed is 1 but the header says 2`,
    );
  });

  it('refuses a log whose lines do not hash to the header', async () => {
    const path = edited(
      (ev) => ev.map((l, i) => (i === 9 ? l.replace('"jiffies":', '"jiffies":1') : l)),
      false,
    );
    // the model, re-executed, names the line
    expect(await refusal(path)).toMatch(
      /^log\.jsonl:11: logHash mismatch: header says sha256:[0-9a-f]{64}, lines give sha256:[0-9a-f]{64}; this is the first line that differs from a re-execution of the run \(seq 9\)$/,
    );
  });

  it('refuses a log that does not end with run.end', async () => {
    expect(await refusal(edited((ev) => ev.slice(0, -1)))).toMatch(
      /^log\.jsonl:\d+: the last event is a \S+, not run\.end$/,
    );
  });

  describe('format 2', () => {
    /** The recorded log with its lines (after the header) edited, the header kept. */
    const format2 = (edit: (l: string[]) => string[]): string =>
      file([recordedLines[0], ...edit(recordedLines.slice(1))].join('\n') + '\n');

    it('a version 1 file reads as the format 2 log it converts to', async () => {
      const log = await LogFile.open(good);
      try {
        expect(log.header).toEqual(JSON.parse(recordedLines[0]));
        const read: string[] = [];
        for await (const l of log.checkedLines()) read.push(l);
        expect(read).toEqual(recordedLines.slice(1));
      } finally {
        await log.close();
      }
    });

    it('names the line that needs a definition removed before it', async () => {
      const def = recordedLines.findIndex((l, i) => i > 0 && l.includes('"kind":"ctx"'));
      const path = format2((l) => l.filter((_, i) => i !== def - 1));
      expect(await refusal(path)).toMatch(new RegExp(`^log\\.jsonl:${def + 1}: `));
    });

    it('refuses lines that do not hash to the header, after the last', async () => {
      const at = recordedLines.findIndex((l, i) => i > 20 && l.startsWith('[')) - 1;
      const path = format2((l) =>
        l.map((x, i) =>
          i === at ? x.replace(/^(\["[^"]+","[^"]+",)(\d+)/, (_m, p: string) => `${p}1000`) : x,
        ),
      );
      expect(readFileSync(path, 'utf8')).not.toBe(recordedLines.join('\n') + '\n');
      expect(await refusal(path)).toMatch(/^log\.jsonl: logHash mismatch/);
    });
  });
});
