/**
 * A property of the CLI's inputs (issue 15, "What must hold"), through its entry point in this
 * process: whatever a scenario file or a log file holds, `mnsim` ends with its contract's exit
 * status, and a refusal is one line on stderr, `mnsim: …`, its control characters escaped — never a
 * stack trace, never a second line that could pass for mnsim's or the kernel's.
 *
 * Scenario files: the built-ins and generated scenarios, mutated at and past every limit (as for
 * the API), written as YAML or JSON, then damaged as bytes: BOMs, binary junk, control characters,
 * invalid UTF-8, huge lines, truncation, CRLF, a file past the size limit; some with names that
 * hold control characters. `mnsim run` exits 0 (1 with --fail-on-violation and a violation), 2 for
 * bad input, 3 only for a run stopped at a limit; an unchanged scenario runs.
 *
 * Logs: a real export of oom-reap-arm64, its lines truncated, flipped, duplicated, dropped,
 * reordered, swollen, its header's fields changed. `mnsim import` and `mnsim replay` succeed when
 * the file still says the same (the same event lines, the same header but for its run id, key
 * order or spacing) and refuse it otherwise, exit 2 with one escaped line. A log forged with a
 * consistent hash is a well-formed log: import takes it, and replay reports the divergence (exit 1).
 *
 * MNSIM_FC_SEED replays a seed.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { canonicalEventLine, logHashOf, RUN_ID_PATTERN } from '@mnsim/events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostileScenario as heavyScenario } from '../bench/src/hostile-scenario.js';
import { main } from '../apps/cli/src/cli.js';
import { type CliOutcome, captureOutput } from './cli-output.js';
import {
  baseScenario,
  type Doc,
  mutate,
  mutation,
  toJsonText,
  toYamlText,
} from './hostile-inputs.js';

/**
 * The suite's runs are reproducible: one seed unless MNSIM_FC_SEED names another (`random` for a
 * fresh one each run, when exploring; a failure prints the seed to replay).
 */
const SEED =
  process.env.MNSIM_FC_SEED === 'random'
    ? undefined
    : Number(process.env.MNSIM_FC_SEED ?? 20261205);

const mnsim = (...args: string[]): Promise<CliOutcome> => captureOutput(() => main(args));

/** what libs/events' printable() escapes: C0 and C1 controls, DEL, line separators, bidi controls */
const UNPRINTABLE =
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;
const STACK_FRAME =
  /\bat (?:async )?(?:[\w.$<>[\]]+ )?\(?(?:file:\/\/|node:)?[\w./@-]*\.[cm]?[jt]s:\d+:\d+\)?/;

/** Why stderr is not what a refusal must be (one escaped line `mnsim: …`), or null. */
function refusalFault(err: string): string | null {
  if (!err.endsWith('\n') || err.indexOf('\n') !== err.length - 1) {
    return 'stderr is not exactly one line';
  }
  return lineFault(err.slice(0, -1));
}

/** Why a line on stderr is not mnsim's escaped one, or null. */
function lineFault(line: string): string | null {
  if (!line.startsWith('mnsim: ')) return 'a line on stderr that does not start with "mnsim: "';
  const bad = UNPRINTABLE.exec(line);
  if (bad !== null) {
    return `a raw U+${bad[0].codePointAt(0)!.toString(16).padStart(4, '0')} on stderr`;
  }
  if (STACK_FRAME.test(line)) return 'a stack trace on stderr';
  return null;
}

/** Every line on stderr is mnsim's escaped one. */
function linesFault(err: string): string | null {
  const lines = err.split('\n');
  if (lines.pop() !== '') return 'stderr does not end with a newline';
  for (const line of lines) {
    const why = lineFault(line);
    if (why !== null) return why;
  }
  return null;
}

function report(what: string, r: CliOutcome): string {
  return `${what}\n    exit ${r.code}\n    stderr: ${JSON.stringify(r.err.slice(0, 1000))}\n    stdout: ${JSON.stringify(r.out.slice(0, 300))}`;
}

// ---------------------------------------------------------------------------------------------
// files

/** a name for the file: plain, or with what a terminal would act on (no "/" and no NUL) */
const fileName = fc.oneof(
  { weight: 6, arbitrary: fc.constant('scenario') },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'a\nmnsim: run completed',
      '\x1b[2J\x1b[H',
      '\u202eexe.lmay',
      '\r',
      'tab\there',
      '\u2028',
      '\x9b31m',
      'é🧨',
      '-rf',
      '--json',
      '.hidden',
      ' ',
    ),
  },
);

/** byte changes to a file */
type Damage =
  | { op: 'bom'; bom: 'utf8' | 'utf16le' | 'utf16be' }
  | { op: 'insert'; at: number; bytes: number[] }
  | { op: 'truncate'; at: number }
  | { op: 'flip'; at: number; mask: number }
  | { op: 'crlf' }
  | { op: 'hugeLine'; at: number; bytes: number; comment: boolean };

const JUNK = [
  [0x00],
  [0x1b, 0x5b, 0x32, 0x4a],
  [0x0d],
  [0x7f],
  [0xc2, 0x85],
  [0xe2, 0x80, 0xa8],
  [0xe2, 0x80, 0xae],
  [0xef, 0xbb, 0xbf],
  [0xc0, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xff, 0xfe],
  [0xf0, 0x9f, 0xa7, 0xa8],
  [0x09],
  [0x0a, 0x2d, 0x20],
  [0x26, 0x61, 0x20, 0x2a, 0x61],
  [0x21, 0x21, 0x6a, 0x73],
];

const damage: fc.Arbitrary<Damage> = fc.oneof(
  fc.record({
    op: fc.constant('bom' as const),
    bom: fc.constantFrom('utf8' as const, 'utf16le' as const, 'utf16be' as const),
  }),
  fc.record({
    op: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.oneof(
      fc.constantFrom(...JUNK),
      fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 64 }),
    ),
  }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    op: fc.constant('flip' as const),
    at: fc.nat(),
    mask: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({ op: fc.constant('crlf' as const) }),
  fc.record({
    op: fc.constant('hugeLine' as const),
    at: fc.nat(),
    bytes: fc.constantFrom(100_000, 1_000_000, 3_000_000),
    comment: fc.boolean(),
  }),
);

function applyDamage(file: Buffer, ds: readonly Damage[]): Buffer {
  let b = file;
  for (const d of ds) {
    const at = (n: number): number => n % (b.length + 1);
    switch (d.op) {
      case 'bom':
        b =
          d.bom === 'utf8'
            ? Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), b])
            : d.bom === 'utf16le'
              ? Buffer.concat([
                  Buffer.from([0xff, 0xfe]),
                  Buffer.from(b.toString('utf8'), 'utf16le'),
                ])
              : Buffer.concat([
                  Buffer.from([0xfe, 0xff]),
                  Buffer.from(b.toString('utf8'), 'utf16le').swap16(),
                ]);
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at(d.at)), Buffer.from(d.bytes), b.subarray(at(d.at))]);
        break;
      case 'truncate':
        b = b.subarray(0, at(d.at));
        break;
      case 'flip':
        if (b.length > 0) {
          b = Buffer.from(b);
          b[d.at % b.length] ^= d.mask;
        }
        break;
      case 'crlf':
        b = Buffer.from(b.toString('latin1').replace(/\n/g, '\r\n'), 'latin1');
        break;
      case 'hugeLine': {
        const line = d.comment
          ? `\n# ${'x'.repeat(d.bytes)}\n`
          : `\nhuge: ${'y'.repeat(d.bytes)}\n`;
        b = Buffer.concat([b.subarray(0, at(d.at)), Buffer.from(line), b.subarray(at(d.at))]);
        break;
      }
    }
  }
  return b;
}

// ---------------------------------------------------------------------------------------------

describe('the CLI under hostile inputs', () => {
  let dir: string;
  const saved = { ...process.env };
  /** the export of a real run: its bytes, its lines (header first), its run id */
  let log: { bytes: Buffer; lines: string[]; runId: string };
  /** the same run exported with --expand: format 1, one whole event a line */
  let expandedLog: typeof log;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mnsim-cli-inputs-'));
    for (const k of Object.keys(process.env)) if (k.startsWith('MNSIM_')) delete process.env[k];
    process.env.MNSIM_SQLITE_PATH = join(dir, 'store.sqlite');
    const run = await mnsim('run', 'oom-reap-arm64', '--json');
    expect(run.code, run.err).toBe(0);
    const runId: string = JSON.parse(run.out).runId;
    const file = join(dir, 'base.jsonl');
    const exported = await mnsim('export', runId, '-o', file);
    expect(exported.code, exported.err).toBe(0);
    const bytes = readFileSync(file);
    log = { bytes, lines: bytes.toString('utf8').split('\n').slice(0, -1), runId };
    const expandedFile = join(dir, 'base-expanded.jsonl');
    const expanded = await mnsim('export', runId, '--expand', '-o', expandedFile);
    expect(expanded.code, expanded.err).toBe(0);
    const expandedBytes = readFileSync(expandedFile);
    expandedLog = {
      bytes: expandedBytes,
      lines: expandedBytes.toString('utf8').split('\n').slice(0, -1),
      runId,
    };
  });

  afterAll(() => {
    process.env = { ...saved };
    rmSync(dir, { recursive: true, force: true });
  });

  it('mnsim run <scenario file>: exit 0, 1, 2 or 3 as the contract says, a refusal on one escaped line', async () => {
    let n = 0;
    const statuses = new Map<number, number>();
    const input = fc.record({
      base: fc.oneof(
        { weight: 60, arbitrary: baseScenario },
        // the scenario that passes a run limit: the run fails (3)
        { weight: 1, arbitrary: fc.constant(heavyScenario() as Doc) },
      ),
      mutations: fc.oneof(
        { weight: 1, arbitrary: fc.constant([]) },
        { weight: 4, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 4 }) },
      ),
      format: fc.constantFrom('yaml', 'json'),
      damage: fc.oneof(
        { weight: 2, arbitrary: fc.constant([]) },
        { weight: 1, arbitrary: fc.array(damage, { minLength: 1, maxLength: 3 }) },
      ),
      name: fileName,
      options: fc.subarray(['--json', '--fail-on-violation', '--kernel=5.8+fix', '--seed=7']),
    });
    await fc.assert(
      fc.asyncProperty(input, async (c) => {
        const doc = mutate(c.base, c.mutations);
        const text = c.format === 'yaml' ? toYamlText(doc) : toJsonText(doc, 2);
        const file = join(dir, `${c.name}-${n++}.${c.format === 'yaml' ? 'yaml' : 'json'}`);
        writeFileSync(file, applyDamage(Buffer.from(text, 'utf8'), c.damage));
        try {
          const r = await mnsim('run', file, ...c.options);
          statuses.set(r.code, (statuses.get(r.code) ?? 0) + 1);
          const failOnViolation = c.options.includes('--fail-on-violation');
          const unchanged = c.mutations.length === 0 && c.damage.length === 0;
          const limit = /^mnsim: the run passed its limit of /.test(r.err);
          let why: string | null = null;
          if (![0, 1, 2, 3].includes(r.code)) why = 'an exit status outside the contract';
          else if (r.code === 1 && !failOnViolation) why = 'exit 1 without --fail-on-violation';
          else if (r.code === 3 && !limit) why = 'exit 3 for a file, not a run limit';
          else if (r.code >= 2)
            why =
              refusalFault(r.err) ??
              (r.code === 2 && r.out !== '' ? 'output on stdout for bad input' : null);
          else why = linesFault(r.err) ?? (r.out === '' ? 'no output' : null);
          if (why === null && unchanged && r.code >= 2 && !limit) {
            why = 'an unchanged scenario did not run';
          }
          if (why !== null)
            throw new Error(
              report(`mnsim run ${JSON.stringify(file)} ${c.options.join(' ')}: ${why}`, r),
            );
        } finally {
          rmSync(file, { force: true });
        }
      }),
      { numRuns: 200, ...(SEED !== undefined ? { seed: SEED } : {}) },
    );
    // both ways out were taken, often
    expect(statuses.get(0) ?? 0).toBeGreaterThan(20);
    expect(statuses.get(2) ?? 0).toBeGreaterThan(50);
  }, 120_000);

  it('the checks refuse what a refusal must not be', () => {
    expect(refusalFault('mnsim: bad.yaml: name: must match [a-z0-9-]+\n')).toBeNull();
    expect(refusalFault('mnsim: bad\\x1b[2J.yaml: no such file\n')).toBeNull();
    for (const bad of [
      'mnsim: two\nlines\n',
      'mnsim: no newline',
      'error: not mnsim\n',
      'mnsim: a raw \x1b[2J escape\n',
      'mnsim: a raw \u202e override\n',
      'mnsim: a raw \x85 next line\n',
      'mnsim: boom at Object.run (/work/main/apps/cli/src/cli.ts:12:5)\n',
      '',
    ]) {
      expect(refusalFault(bad), JSON.stringify(bad)).not.toBeNull();
    }
    expect(linesFault('mnsim: imported run x\nmnsim: second\n')).toBeNull();
    expect(linesFault('mnsim: ok\n    at f (/x.js:1:2)\n')).not.toBeNull();
  });

  it('mnsim run on what is not a scenario file: exit 2, one escaped line', async () => {
    const big = join(dir, 'big.yaml');
    // past MAX_SOURCE_BYTES (16 MiB): refused before it is read
    writeFileSync(big, Buffer.alloc(17 * 1024 * 1024, 0x23));
    for (const ref of [
      dir,
      big,
      '/dev/zero',
      '/dev/null',
      join(dir, 'missing\x1b[2J.yaml'),
      '/proc/self/mem',
    ]) {
      const r = await mnsim('run', ref);
      expect(r.code, report(ref, r)).toBe(2);
      expect(refusalFault(r.err), report(ref, r)).toBeNull();
    }
    rmSync(big);
  });

  it.each([
    ['format 2', () => log],
    ['format 1 (--expand)', () => expandedLog],
  ])(
    'mnsim import and mnsim replay <log file> in %s: the same log succeeds, any other is refused on one escaped line',
    async (_format, which) => {
      const log = which();
      const header = JSON.parse(log.lines[0]) as Record<string, unknown>;
      const events = log.lines.slice(1);
      let n = 0;
      const statuses = { import: new Map<number, number>(), replay: new Map<number, number>() };

      /** a change to the log, as lines (the header first) and then as bytes */
      type LogChange =
        | { op: 'none' }
        | { op: 'header'; key: string; value: unknown }
        | { op: 'headerKeys'; drop: number; reorder: boolean; spaced: boolean }
        | { op: 'dropLine'; at: number }
        | { op: 'duplicateLine'; at: number }
        | { op: 'swapLines'; a: number; b: number }
        | { op: 'replaceLine'; at: number; line: string }
        | { op: 'insertLine'; at: number; line: string }
        | { op: 'inject'; line: number; at: number; text: string }
        | { op: 'bytes'; damage: Damage[] }
        | { op: 'noFinalNewline' }
        | { op: 'forge'; at: number };

      const hugeLine = fc.constantFrom(1_000_000, 3_000_000).map((k) => `{"x":"${'x'.repeat(k)}"}`);
      const oddText = fc.oneof(
        fc.constantFrom(
          '\x1b[2J',
          '\n',
          '\r',
          '\u0000',
          '\u202e',
          '\u2028',
          '\ufeff',
          '\\',
          '"',
          '}',
          '🧨',
          '\ud800',
        ),
        fc.string({ unit: 'binary', maxLength: 8 }),
      );
      const headerValue = fc.oneof(
        fc.constantFrom(
          'fresh-run-id',
          'a'.repeat(100),
          'a'.repeat(101),
          'run\x1b[2J',
          'run\nmnsim: imported',
          '\u202erun',
          '',
          'sha256:' + '0'.repeat(64),
          'sha256:' + 'A'.repeat(64),
          'oom-reap-x86',
          '5.8+fix',
          'x86',
          2,
          43,
          45,
          -1,
          1e300,
          0.5,
          null,
          true,
          [],
          {},
          'mnsim-log',
        ),
        fc.string({ unit: 'binary', maxLength: 20 }),
      );
      const change: fc.Arbitrary<LogChange> = fc.oneof(
        { weight: 2, arbitrary: fc.constant({ op: 'none' as const }) },
        {
          weight: 4,
          arbitrary: fc.record({
            op: fc.constant('header' as const),
            key: fc.constantFrom(...Object.keys(header), 'extra', '__proto__'),
            value: headerValue,
          }),
        },
        {
          weight: 2,
          arbitrary: fc.record({
            op: fc.constant('headerKeys' as const),
            drop: fc.integer({ min: -3, max: Object.keys(header).length - 1 }),
            reorder: fc.boolean(),
            spaced: fc.boolean(),
          }),
        },
        { weight: 2, arbitrary: fc.record({ op: fc.constant('dropLine' as const), at: fc.nat() }) },
        {
          weight: 2,
          arbitrary: fc.record({ op: fc.constant('duplicateLine' as const), at: fc.nat() }),
        },
        {
          weight: 2,
          arbitrary: fc.record({ op: fc.constant('swapLines' as const), a: fc.nat(), b: fc.nat() }),
        },
        {
          weight: 2,
          arbitrary: fc.record({
            op: fc.constant('replaceLine' as const),
            at: fc.nat(),
            line: fc.oneof(
              fc.constantFrom(
                '',
                ' ',
                '{}',
                '[]',
                'null',
                '{"seq":1}',
                '[['.repeat(50_000),
                '{"a":'.repeat(20_000),
              ),
              fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
              hugeLine,
            ),
          }),
        },
        {
          weight: 1,
          arbitrary: fc.record({
            op: fc.constant('insertLine' as const),
            at: fc.nat(),
            line: fc.oneof(fc.constantFrom('', '{}', log.lines[1] ?? ''), hugeLine),
          }),
        },
        {
          weight: 3,
          arbitrary: fc.record({
            op: fc.constant('inject' as const),
            line: fc.nat(),
            at: fc.nat(),
            text: oddText,
          }),
        },
        {
          weight: 3,
          arbitrary: fc.record({
            op: fc.constant('bytes' as const),
            damage: fc.array(damage, { minLength: 1, maxLength: 3 }),
          }),
        },
        { weight: 1, arbitrary: fc.constant({ op: 'noFinalNewline' as const }) },
        { weight: 1, arbitrary: fc.record({ op: fc.constant('forge' as const), at: fc.nat() }) },
      );

      function apply(c: LogChange): Buffer {
        const lines = [...log.lines];
        const pick = (i: number): number => i % lines.length;
        switch (c.op) {
          case 'none':
            break;
          case 'header': {
            const h = { ...header };
            Object.defineProperty(h, c.key, {
              value: c.value,
              enumerable: true,
              configurable: true,
              writable: true,
            });
            lines[0] = JSON.stringify(h);
            break;
          }
          case 'headerKeys': {
            let entries = Object.entries(header);
            if (c.drop >= 0) entries.splice(c.drop, 1);
            if (c.reorder) entries = entries.reverse();
            lines[0] = JSON.stringify(
              Object.fromEntries(entries),
              null,
              c.spaced ? 1 : undefined,
            ).replace(/\n/g, ' ');
            break;
          }
          case 'dropLine':
            lines.splice(pick(c.at), 1);
            break;
          case 'duplicateLine':
            lines.splice(pick(c.at), 0, lines[pick(c.at)]);
            break;
          case 'swapLines':
            [lines[pick(c.a)], lines[pick(c.b)]] = [lines[pick(c.b)], lines[pick(c.a)]];
            break;
          case 'replaceLine':
            lines[pick(c.at)] = c.line;
            break;
          case 'insertLine':
            lines.splice(pick(c.at), 0, c.line);
            break;
          case 'inject': {
            const l = lines[pick(c.line)];
            const at = c.at % (l.length + 1);
            lines[pick(c.line)] = l.slice(0, at) + c.text + l.slice(at);
            break;
          }
          case 'forge': {
            // an event after run.start changed and re-encoded canonically, the hash made to match,
            // a new run id
            let i = 2 + (c.at % (events.length - 1));
            if (header.version === 1) {
              const e = JSON.parse(lines[i]);
              e.jiffies += 1;
              lines[i] = canonicalEventLine(e);
            } else {
              // format 2: the event line at or after it, its jiffies (its third member) bumped
              while (!lines[i].startsWith('[')) i = i + 1 < lines.length ? i + 1 : 2;
              const e = JSON.parse(lines[i]) as unknown[];
              e[2] = (e[2] as number) + 1;
              lines[i] = JSON.stringify(e);
            }
            lines[0] = JSON.stringify({
              ...header,
              runId: `forged-${n}`,
              logHash: logHashOf(lines.slice(1)),
            });
            break;
          }
          case 'bytes':
            return applyDamage(log.bytes, c.damage);
          case 'noFinalNewline':
            return Buffer.from(lines.join('\n'));
        }
        return Buffer.from(lines.join('\n') + '\n');
      }

      /** the file still says what the export said: import and replay must take it */
      function same(file: Buffer): boolean {
        const text = file.toString('utf8');
        const lines = text.split('\n');
        if (lines.at(-1) === '') lines.pop();
        if (lines.length !== log.lines.length || lines.slice(1).some((l, i) => l !== events[i]))
          return false;
        let h: unknown;
        try {
          h = JSON.parse(lines[0]);
        } catch {
          return false;
        }
        if (typeof h !== 'object' || h === null || Array.isArray(h)) return false;
        const got = h as Record<string, unknown>;
        return (
          typeof got.runId === 'string' &&
          RUN_ID_PATTERN.test(got.runId) &&
          Object.keys(header).every(
            (k) => k === 'runId' || JSON.stringify(got[k]) === JSON.stringify(header[k]),
          )
        );
      }

      await fc.assert(
        fc.asyncProperty(change, fileName, async (c, name) => {
          const bytes = apply(c);
          const file = join(dir, `${name}-${n++}.jsonl`);
          writeFileSync(file, bytes);
          try {
            const expectSame = same(bytes);
            const forged = c.op === 'forge';
            for (const command of ['import', 'replay'] as const) {
              const r = await mnsim(command, file);
              statuses[command].set(r.code, (statuses[command].get(r.code) ?? 0) + 1);
              let why: string | null;
              if (expectSame) {
                why =
                  r.code === 0
                    ? linesFault(r.err)
                    : 'refused a log that says the same as the export';
              } else if (forged && command === 'replay') {
                why = r.code === 1 ? linesFault(r.err) : 'a forged log did not diverge';
              } else if (forged) {
                why = r.code === 0 ? linesFault(r.err) : refusalFault(r.err);
              } else if (
                r.code === 2 ||
                (r.code === 3 && /^mnsim: the run passed its limit of /.test(r.err))
              ) {
                why =
                  refusalFault(r.err) ??
                  (command === 'import' && r.out !== '' ? 'output on stdout for bad input' : null);
              } else {
                why = `exit ${r.code} for a changed log`;
              }
              if (why !== null) {
                throw new Error(
                  report(
                    `mnsim ${command} ${JSON.stringify(file)} (${JSON.stringify(c).slice(0, 300)}): ${why}`,
                    r,
                  ),
                );
              }
            }
          } finally {
            rmSync(file, { force: true });
          }
        }),
        { numRuns: 150, ...(SEED !== undefined ? { seed: SEED } : {}) },
      );
      expect(statuses.import.get(0) ?? 0).toBeGreaterThan(10);
      expect(statuses.import.get(2) ?? 0).toBeGreaterThan(50);
      expect(statuses.replay.get(2) ?? 0).toBeGreaterThan(50);
    },
    120_000,
  );
});
