/**
 * A run's log as a JSON Lines file (`mnsim export`, `mnsim import`, `mnsim replay log.jsonl`).
 * Line 1 is a header: format, version, run id, scenario name, variant, arch, seed, event count and
 * logHash. Every other line is one event in its canonical encoding, in seq order: exactly the lines
 * the logHash covers. Files are read as a stream, a line at a time, whatever their size.
 */
import { MnsimError } from '@mnsim/errors';
import {
  closeSync,
  createReadStream,
  createWriteStream,
  openSync,
  readSync,
  statSync,
  writeSync,
} from 'node:fs';
import { rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import {
  ARCHES,
  KERNEL_VARIANTS,
  TASK_COMM_LEN,
  type Arch,
  type KernelVariant,
  type Scenario,
} from '@mnsim/kernel';
import {
  type CanonicalEvent,
  EVENT_TYPES,
  type Json,
  LogHasher,
  RUN_ID_PATTERN,
  RUN_ID_RULE,
  type Violation,
  canonicalEventLineFromPayload,
  canonicalJson,
  firstNonPrintableAscii,
  violationWithSeq,
} from '@mnsim/events';
import { type RecordedLog, type RunStart, firstIssue, runStartOf } from './recorded-log.js';
import { type SyncLineSource, openSyncLineSource } from './file-line-source.js';
import { simulate, type SimulateOptions, type SimulationResult } from './simulate.js';

export const LOG_FORMAT = 'mnsim-log';
export const LOG_FORMAT_VERSION = 1;

/** Longest line read: a run.start line holds the whole scenario (100,000 steps fit in a few MiB). */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;

/** Longest header line: its nine fields take a few hundred bytes. */
export const MAX_HEADER_BYTES = 64 * 1024;

/** Whether the file's first line ends within `max` bytes (or the file does): read no further. */
function firstLineFits(file: string, max: number): boolean {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(max + 1);
    let have = 0;
    while (have < buf.length) {
      const n = readSync(fd, buf, have, buf.length - have, null);
      if (n === 0) return true;
      if (buf.subarray(have, have + n).includes(10)) return true;
      have += n;
    }
    return false;
  } finally {
    closeSync(fd);
  }
}

export interface LogHeader {
  format: typeof LOG_FORMAT;
  version: typeof LOG_FORMAT_VERSION;
  runId: string;
  scenario: string;
  kernel: KernelVariant;
  arch: Arch;
  seed: number;
  events: number;
  logHash: string;
}

/** A log file that cannot be read as one: `<file>:<line>: <reason>`, exit status 2. */
export class LogFileError extends MnsimError {
  constructor(
    readonly file: string,
    /** 1-based; null when the problem is with the file as a whole */
    readonly line: number | null,
    readonly reason: string,
  ) {
    super(line === null ? `${file}: ${reason}` : `${file}:${line}: ${reason}`, 'bad-input');
  }
}

/** Every line is well formed but together they do not hash to the header's logHash. */
export class LogHashMismatchError extends LogFileError {
  constructor(
    file: string,
    readonly headerHash: string,
    readonly linesHash: string,
    line: number | null = null,
    detail = '',
  ) {
    super(
      file,
      line,
      `logHash mismatch: header says ${headerHash}, lines give ${linesHash}${detail ? `; ${detail}` : ''}`,
    );
  }
}

/** The line of the event at `seq` (line 1 is the header). */
export function lineOfSeq(seq: number): number {
  return seq + 2;
}

const headerSchema = z.object({
  // the id the run is stored under and printed with: one form everywhere (libs/events)
  runId: z.string().regex(RUN_ID_PATTERN, { error: `must be ${RUN_ID_RULE}` }),
  scenario: z.string().min(1),
  kernel: z.enum(KERNEL_VARIANTS),
  arch: z.enum(ARCHES),
  seed: z.int().min(0),
  // run.start and run.end at least
  events: z.int().min(2),
  logHash: z.string().regex(/^sha256:[0-9a-f]{64}$/, 'expected sha256:<64 hex digits>'),
});

function parseHeader(text: string, file: string): LogHeader {
  const fail = (reason: string): LogFileError => new LogFileError(file, 1, reason);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw fail(`not an ${LOG_FORMAT} file: the first line is not a JSON header`);
  }
  const v = value as { format?: unknown; version?: unknown } | null;
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v.format !== LOG_FORMAT) {
    throw fail(`not an ${LOG_FORMAT} file: the header has no "format":"${LOG_FORMAT}"`);
  }
  if (v.version !== LOG_FORMAT_VERSION) {
    throw fail(
      `${LOG_FORMAT} version ${JSON.stringify(v.version)} is not supported (this mnsim reads version ${LOG_FORMAT_VERSION})`,
    );
  }
  const parsed = headerSchema.safeParse(value);
  if (!parsed.success) throw fail(`header: ${firstIssue(parsed.error)}`);
  return { format: LOG_FORMAT, version: LOG_FORMAT_VERSION, ...parsed.data };
}

/**
 * The lines of a file, without their "\n", read in 1 MiB chunks (a last line without "\n" counts).
 * Much faster than node:readline, which matters for replay: a million-event log is ~500 MB.
 */
export async function* fileLines(file: string): AsyncGenerator<string> {
  const parts: Buffer[] = [];
  let partBytes = 0;
  let lineNo = 1;
  const stream = createReadStream(file, { highWaterMark: 1 << 20 });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let from = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, from)) {
      if (parts.length === 0) {
        yield chunk.toString('utf8', from, nl);
      } else {
        parts.push(chunk.subarray(from, nl));
        yield Buffer.concat(parts).toString('utf8');
        parts.length = 0;
        partBytes = 0;
      }
      lineNo++;
      from = nl + 1;
    }
    if (from < chunk.length) {
      parts.push(chunk.subarray(from));
      partBytes += chunk.length - from;
      if (partBytes > MAX_LINE_BYTES) {
        stream.destroy();
        throw new LogFileError(file, lineNo, `line longer than ${MAX_LINE_BYTES} bytes`);
      }
    }
  }
  if (parts.length > 0) yield Buffer.concat(parts).toString('utf8');
}

/** One event line, checked (see {@link LogFile.checkedEvents}). */
export interface CheckedEvent {
  lineNo: number;
  line: string;
  event: CanonicalEvent;
  /** the payload's canonical JSON, a slice of `line` */
  payloadText: string;
  /** set for a violation event */
  violation: Violation | null;
}

const eventSchema = z.strictObject({
  causationId: z.string().min(1).nullable(),
  id: z.string().min(1),
  jiffies: z.int().min(0),
  payload: z.custom<{ [key: string]: Json }>(
    (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
    'expected an object',
  ),
  seq: z.int().min(0),
  type: z.enum(EVENT_TYPES),
});

const violationSchema = z.object({
  jiffies: z.int().min(0),
  site: z.string(),
  inAtomic: z.int(),
  irqsDisabled: z.int(),
  nonBlock: z.int(),
  pid: z.int(),
  // task->comm as the kernel keeps it (TASK_COMM_LEN with the NUL): it reaches the kernel log
  comm: z
    .string()
    .refine((c) => c.length >= 1 && c.length < TASK_COMM_LEN && firstNonPrintableAscii(c) === -1, {
      error: `must be 1 to ${TASK_COMM_LEN - 1} printable ASCII characters`,
    }),
  reported: z.boolean(),
  signature: z.string(),
  stack: z.array(z.string()),
  text: z.string(),
});

const runEndSchema = z.object({ events: z.int(), status: z.literal('completed') });

/** A log file, opened: its header and run.start read and checked, its events streamed on demand. */
export class LogFile implements RecordedLog {
  private constructor(
    readonly file: string,
    readonly header: LogHeader,
    readonly start: RunStart,
  ) {}

  /**
   * Reads and checks the header and the run.start event (line 2).
   * @throws LogFileError naming the file and the line
   */
  static async open(file: string): Promise<LogFile> {
    let isFile: boolean;
    try {
      isFile = statSync(file).isFile();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new LogFileError(
        file,
        null,
        code === 'ENOENT' ? 'no such file' : `cannot read: ${code}`,
      );
    }
    if (!isFile) throw new LogFileError(file, null, 'not a regular file');
    if (!firstLineFits(file, MAX_HEADER_BYTES)) {
      throw new LogFileError(
        file,
        1,
        `not an ${LOG_FORMAT} file: the first line is longer than ${MAX_HEADER_BYTES} bytes`,
      );
    }
    const head: string[] = [];
    for await (const line of fileLines(file)) {
      head.push(line);
      if (head.length === 2) break;
    }
    if (head.length === 0)
      throw new LogFileError(file, null, `empty file: expected an ${LOG_FORMAT} header line`);
    const header = parseHeader(head[0], file);
    if (head.length < 2) {
      throw new LogFileError(file, 2, `expected ${header.events} events, found 0`);
    }
    const first = parseEventLine(head[1], 2, file);
    if (first.event.type !== 'run.start' || first.event.seq !== 0) {
      throw new LogFileError(
        file,
        2,
        `the first event must be run.start with seq 0, found ${first.event.type} with seq ${first.event.seq}`,
      );
    }
    const start = runStartOf(
      first.event.payload,
      first.line,
      (reason) => new LogFileError(file, 2, reason),
    );
    const mismatch = (
      [
        ['scenario', header.scenario, start.scenario.name],
        ['kernel', header.kernel, start.kernel],
        ['arch', header.arch, start.arch],
        ['seed', header.seed, start.seed],
      ] as const
    ).find(([, h, s]) => h !== s);
    if (mismatch) {
      const [key, h, s] = mismatch;
      throw new LogFileError(
        file,
        2,
        `run.start's ${key} is ${JSON.stringify(s)} but the header says ${JSON.stringify(h)}`,
      );
    }
    return new LogFile(file, header, start);
  }

  get origin(): string {
    return this.file;
  }

  get runId(): string {
    return this.header.runId;
  }

  get events(): number {
    return this.header.events;
  }

  get logHash(): string {
    return this.header.logHash;
  }

  async *lines(): AsyncGenerator<string> {
    let header = true;
    for await (const line of fileLines(this.file)) {
      if (header) header = false;
      else yield line;
    }
  }

  syncLines(): SyncLineSource {
    return openSyncLineSource(this.file, MAX_LINE_BYTES);
  }

  async *checkedLines(): AsyncGenerator<string> {
    for await (const e of this.checkedEvents()) yield e.line;
  }

  /**
   * Every event, checked as `mnsim import` requires: each line a canonical event line, seq 0..N-1
   * with no gap, ids unique, each causationId an earlier event's id, run.start first and run.end
   * last, N as the header says; after the last line, the lines' hash against the header's.
   * @throws LogFileError naming the first bad line; LogHashMismatchError at the end
   */
  async *checkedEvents(): AsyncGenerator<CheckedEvent> {
    const file = this.file;
    const expected = this.header.events;
    const hasher = new LogHasher();
    /** id → line, for uniqueness and causation */
    const ids = new Map<string, number>();
    let count = 0;
    let lineNo = 1;
    let last: CheckedEvent | null = null;
    for await (const line of this.lines()) {
      lineNo++;
      const fail = (reason: string): LogFileError => new LogFileError(file, lineNo, reason);
      if (count === expected) {
        throw fail(`expected ${expected} events, found more (the header says ${expected})`);
      }
      const checked = parseEventLine(line, lineNo, file);
      const e = checked.event;
      if (e.seq !== count) {
        const follows = count === 0 ? 'the first event has' : `seq ${e.seq} follows ${count - 1}`;
        throw fail(
          count === 0
            ? `${follows} seq ${e.seq}, expected 0`
            : `${follows} (${e.seq > count ? 'gap' : 'out of order'})`,
        );
      }
      if (last?.event.type === 'run.end') throw fail(`${e.type} event after run.end`);
      if ((e.type === 'run.start') !== (count === 0)) {
        throw fail(
          count === 0 ? `the first event is a ${e.type}, not run.start` : 'a second run.start',
        );
      }
      const seen = ids.get(e.id);
      if (seen !== undefined) throw fail(`id ${JSON.stringify(e.id)} repeats line ${seen}`);
      if (e.causationId !== null && !ids.has(e.causationId)) {
        throw fail(`causationId ${JSON.stringify(e.causationId)} names no earlier event`);
      }
      ids.set(e.id, lineNo);
      if (e.type === 'violation') {
        const v = violationSchema.safeParse((e.payload as { violation?: unknown }).violation);
        if (!v.success) throw fail(`violation: ${firstIssue(v.error)}`);
        checked.violation = violationWithSeq(e.seq, v.data);
      }
      hasher.update(line);
      count++;
      last = checked;
      yield checked;
    }
    if (count < expected) {
      throw new LogFileError(file, lineOfSeq(count), `expected ${expected} events, found ${count}`);
    }
    if (last?.event.type !== 'run.end') {
      throw new LogFileError(
        file,
        last?.lineNo ?? null,
        `the last event is a ${last?.event.type}, not run.end`,
      );
    }
    const end = runEndSchema.safeParse(last.event.payload);
    if (!end.success)
      throw new LogFileError(file, last.lineNo, `run.end: ${firstIssue(end.error)}`);
    if (end.data.events !== count) {
      throw new LogFileError(
        file,
        last.lineNo,
        `run.end says ${end.data.events} events, the log has ${count}`,
      );
    }
    const linesHash = hasher.digest();
    if (linesHash !== this.header.logHash) {
      throw new LogHashMismatchError(file, this.header.logHash, linesHash);
    }
  }
}

/** Parses one event line and checks that it is canonical, byte for byte. */
function parseEventLine(line: string, lineNo: number, file: string): CheckedEvent {
  const fail = (reason: string): LogFileError => new LogFileError(file, lineNo, reason);
  if (line === '') throw fail('empty line');
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    throw fail(`not JSON (${(err as Error).message})`);
  }
  const parsed = eventSchema.safeParse(value);
  if (!parsed.success) throw fail(`not an event: ${firstIssue(parsed.error)}`);
  const event = parsed.data;
  const payloadText = canonicalJson(event.payload);
  if (canonicalEventLineFromPayload(event, payloadText) !== line) {
    throw fail(
      'not in canonical form (keys in code-point order, no whitespace, canonical numbers)',
    );
  }
  return { lineNo, line, event, payloadText, violation: null };
}

export interface RecordedLogFile {
  header: LogHeader;
  result: SimulationResult;
}

/**
 * Simulates a scenario straight into a log file, the file `mnsim export` writes for the recorded
 * run (benchmarks, tests). simulate() is synchronous, so the lines are written synchronously, to a
 * side file first: the header, which comes first, needs the logHash.
 */
export async function recordLogFile(
  scenario: Scenario,
  file: string,
  opts: Pick<SimulateOptions, 'kernel' | 'seed' | 'limits'> & { runId: string },
): Promise<RecordedLogFile> {
  const body = `${file}.events`;
  try {
    const fd = openSync(body, 'w');
    let result: SimulationResult;
    try {
      let pending = '';
      result = simulate(scenario, {
        kernel: opts.kernel,
        seed: opts.seed,
        limits: opts.limits,
        keepKernelLog: false,
        onEvent: (e, payload) => {
          pending += canonicalEventLineFromPayload(e, payload) + '\n';
          if (pending.length > 1 << 20) {
            writeSync(fd, pending);
            pending = '';
          }
        },
      });
      writeSync(fd, pending);
    } finally {
      closeSync(fd);
    }
    const header: LogHeader = {
      format: LOG_FORMAT,
      version: LOG_FORMAT_VERSION,
      runId: opts.runId,
      scenario: result.scenario,
      kernel: result.kernel,
      arch: result.arch,
      seed: result.seed,
      events: result.events,
      logHash: result.logHash ?? '',
    };
    const out = createWriteStream(file);
    out.write(JSON.stringify(header) + '\n');
    await pipeline(createReadStream(body), out);
    return { header, result };
  } finally {
    await rm(body, { force: true });
  }
}
