/**
 * A run's log as a JSON Lines file (`mnsim export`, `mnsim import`, `mnsim replay log.jsonl`).
 * Line 1 is a header: format, version, run id, scenario name, variant, arch, seed, event count and
 * logHash. The other lines are the run's log, exactly the lines the logHash covers:
 *
 * - version 2 (what mnsim writes): log format 2, each repeated part of the events defined once
 *   on a line of its own and referred to by id after (@mnsim/events interned-log.ts);
 * - version 1 (`mnsim export --expand`, and every log before format 2): one self-contained event
 *   per line. Such a file is checked against its own logHash as it is opened, then read as the
 *   format 2 log it converts to (in a temporary file, removed by close()).
 *
 * Files are read as a stream, a line at a time, whatever their size.
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
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
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
  LogExpander,
  LogFormatError,
  LogHasher,
  LogInterner,
  RUN_ID_PATTERN,
  RUN_ID_RULE,
  type Violation,
  canonicalEventLineFromPayload,
  canonicalJson,
  encodePayload,
  firstNonPrintableAscii,
  violationWithSeq,
} from '@mnsim/events';
import { type RecordedLog, type RunStart, firstIssue, runStartOf } from './recorded-log.js';
import { type SyncLineSource, openSyncLineSource } from './file-line-source.js';
import { simulate, type SimulateOptions, type SimulationResult } from './simulate.js';

export const LOG_FORMAT = 'mnsim-log';
/** The version mnsim writes: log format 2. */
export const LOG_FORMAT_VERSION = 2;
/** The version of a self-contained log (`mnsim export --expand`): one whole event a line. */
export const EXPANDED_LOG_FORMAT_VERSION = 1;
const READ_VERSIONS: readonly number[] = [EXPANDED_LOG_FORMAT_VERSION, LOG_FORMAT_VERSION];

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
  version: typeof LOG_FORMAT_VERSION | typeof EXPANDED_LOG_FORMAT_VERSION;
  runId: string;
  scenario: string;
  kernel: KernelVariant;
  arch: Arch;
  seed: number;
  events: number;
  logHash: string;
}

/**
 * Line 1 of a log file, as every writer of one writes it (export, the API's log, the conversion of
 * version 1, the benchmarks' recorded files): the header's keys in this one order.
 */
export function logHeaderLine(h: LogHeader): string {
  const ordered: LogHeader = {
    format: h.format,
    version: h.version,
    runId: h.runId,
    scenario: h.scenario,
    kernel: h.kernel,
    arch: h.arch,
    seed: h.seed,
    events: h.events,
    logHash: h.logHash,
  };
  return JSON.stringify(ordered);
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

/** The line of the event at `seq` in a version 1 file (line 1 is the header). */
export function lineOfSeq(seq: number): number {
  return seq + 2;
}

/** The file line of the log line at `index` (0-based, after the header). */
export function lineOfIndex(index: number): number {
  return index + 2;
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
  if (!READ_VERSIONS.includes(v.version as number)) {
    throw fail(
      `${LOG_FORMAT} version ${JSON.stringify(v.version)} is not supported (this mnsim reads versions ${READ_VERSIONS.join(' and ')})`,
    );
  }
  const parsed = headerSchema.safeParse(value);
  if (!parsed.success) throw fail(`header: ${firstIssue(parsed.error)}`);
  return { format: LOG_FORMAT, version: v.version as LogHeader['version'], ...parsed.data };
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
  /** the event's line */
  line: string;
  /** its lines of the log: the definitions it is the first to use, then `line` */
  lines: string[];
  event: CanonicalEvent;
  /** set for a violation event */
  violation: Violation | null;
}

/** One line of a version 1 file (format 1: the event whole), checked. */
interface ExpandedEventLine {
  lineNo: number;
  line: string;
  event: CanonicalEvent;
  /** the payload's canonical JSON, a slice of `line` */
  payloadText: string;
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
  // absent for atomic-sleep, as the model writes it (libs/kernel violation.ts)
  kind: z.enum(['notifier-imbalance', 'guest-livelock']).optional(),
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

/**
 * A log file, opened: its header and run.start read and checked, its lines streamed on demand. A
 * version 1 file is checked whole as it is opened and read as the format 2 log it converts to.
 */
export class LogFile implements RecordedLog {
  private constructor(
    /** the file as given: what messages name */
    readonly file: string,
    readonly header: LogHeader,
    readonly start: RunStart,
    /** where the format 2 lines are read: the file itself, or its conversion */
    private readonly path: string,
    /** the temporary directory of a conversion, removed by close() */
    private readonly converted: string | null,
  ) {}

  /**
   * Reads and checks the header and the run.start event; a version 1 file is checked whole and
   * converted to format 2.
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
    let headerLine: string | undefined;
    for await (const line of fileLines(file)) {
      headerLine = line;
      break;
    }
    if (headerLine === undefined) {
      throw new LogFileError(file, null, `empty file: expected an ${LOG_FORMAT} header line`);
    }
    const header = parseHeader(headerLine, file);
    if (header.version === EXPANDED_LOG_FORMAT_VERSION) return convertExpanded(file, header);
    return LogFile.openFormat2(file, header, file, null);
  }

  /** Opens a format 2 file (`path`, named `file` in messages); see open(). */
  static async openFormat2(
    file: string,
    header: LogHeader,
    path: string,
    converted: string | null,
  ): Promise<LogFile> {
    // the definitions run.start uses, then run.start
    const expander = new LogExpander();
    let lineNo = 1;
    let first: { line: string; event: CanonicalEvent } | null = null;
    for await (const line of fileLines(path)) {
      if (lineNo++ === 1) continue;
      let event: CanonicalEvent | null;
      try {
        event = expander.line(line);
      } catch (err) {
        if (!(err instanceof LogFormatError)) throw err;
        throw new LogFileError(file, lineNo, err.message);
      }
      if (event !== null) {
        first = { line, event };
        break;
      }
    }
    if (first === null) {
      throw new LogFileError(file, lineNo + 1, `expected ${header.events} events, found 0`);
    }
    if (first.event.type !== 'run.start') {
      throw new LogFileError(
        file,
        lineNo,
        `the first event must be run.start, found ${first.event.type}`,
      );
    }
    const start = runStartChecked(file, header, first.event, first.line, lineNo);
    return new LogFile(file, header, start, path, converted);
  }

  /** Removes the conversion of a version 1 file; the LogFile is not to be read after. */
  async close(): Promise<void> {
    if (this.converted !== null) await rm(this.converted, { recursive: true, force: true });
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
    for await (const line of fileLines(this.path)) {
      if (header) header = false;
      else yield line;
    }
  }

  syncLines(): SyncLineSource {
    return openSyncLineSource(this.path, MAX_LINE_BYTES);
  }

  async *checkedLines(): AsyncGenerator<string> {
    for await (const l of this.checked()) yield l.line;
  }

  /** Every event, checked (see checked()). */
  async *checkedEvents(): AsyncGenerator<CheckedEvent> {
    for await (const l of this.checked()) if (l.event !== null) yield l.event;
  }

  /**
   * Every line, checked as `mnsim import` requires: a format 2 log that expands (each line what
   * format 2 writes), its events' ids unique, each causationId an earlier event's id, run.start
   * first and run.end last, as many events as the header says; after the last line, the lines'
   * hash against the header's.
   * @throws LogFileError naming the first bad line; LogHashMismatchError at the end
   */
  private async *checked(): AsyncGenerator<{ line: string; event: CheckedEvent | null }> {
    const file = this.file;
    const expected = this.header.events;
    const hasher = new LogHasher();
    const expander = new LogExpander();
    const sequence = new EventSequence(expected);
    let count = 0;
    let lineNo = 1;
    let last: CheckedEvent | null = null;
    let defs: string[] = [];
    for await (const line of this.lines()) {
      lineNo++;
      const fail = (reason: string): LogFileError => new LogFileError(file, lineNo, reason);
      let e: CanonicalEvent | null;
      try {
        e = expander.line(line);
      } catch (err) {
        if (!(err instanceof LogFormatError)) throw err;
        throw fail(err.message);
      }
      hasher.update(line);
      if (e === null) {
        defs.push(line);
        yield { line, event: null };
        continue;
      }
      sequence.event(e, lineNo, fail);
      defs.push(line);
      const checked: CheckedEvent = { lineNo, line, lines: defs, event: e, violation: null };
      defs = [];
      if (e.type === 'violation') checked.violation = violationOf(e, fail);
      count++;
      last = checked;
      yield { line, event: checked };
    }
    try {
      expander.end();
    } catch (err) {
      if (!(err instanceof LogFormatError)) throw err;
      throw new LogFileError(file, lineNo, err.message);
    }
    checkEnd(file, expected, count, last);
    const linesHash = hasher.digest();
    if (linesHash !== this.header.logHash) {
      throw new LogHashMismatchError(file, this.header.logHash, linesHash);
    }
  }
}

/**
 * What a log's events must be in sequence, whatever its format: as many as the header says,
 * run.start first and nothing after run.end, ids unique, each causationId an earlier event's id.
 */
class EventSequence {
  /** id → line, for uniqueness and causation */
  private readonly ids = new Map<string, number>();
  private count = 0;
  private lastType: string | null = null;

  constructor(private readonly expected: number) {}

  /** Before an event is read: refuses one more than the header says. */
  full(fail: (reason: string) => LogFileError): void {
    if (this.count === this.expected) {
      throw fail(`expected ${this.expected} events, found more (the header says ${this.expected})`);
    }
  }

  event(e: CanonicalEvent, lineNo: number, fail: (reason: string) => LogFileError): void {
    this.full(fail);
    if (this.lastType === 'run.end') throw fail(`${e.type} event after run.end`);
    if ((e.type === 'run.start') !== (this.count === 0)) {
      throw fail(
        this.count === 0 ? `the first event is a ${e.type}, not run.start` : 'a second run.start',
      );
    }
    const seen = this.ids.get(e.id);
    if (seen !== undefined) throw fail(`id ${JSON.stringify(e.id)} repeats line ${seen}`);
    if (e.causationId !== null && !this.ids.has(e.causationId)) {
      throw fail(`causationId ${JSON.stringify(e.causationId)} names no earlier event`);
    }
    this.ids.set(e.id, lineNo);
    this.lastType = e.type;
    this.count++;
  }
}

/** The run.start event at `lineNo`, checked, and against the header. */
function runStartChecked(
  file: string,
  header: LogHeader,
  event: CanonicalEvent,
  line: string,
  lineNo: number,
): RunStart {
  const start = runStartOf(event.payload, line, (reason) => new LogFileError(file, lineNo, reason));
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
      lineNo,
      `run.start's ${key} is ${JSON.stringify(s)} but the header says ${JSON.stringify(h)}`,
    );
  }
  return start;
}

/** A violation event's violation, checked. */
function violationOf(e: CanonicalEvent, fail: (reason: string) => LogFileError): Violation {
  const v = violationSchema.safeParse((e.payload as { violation?: unknown }).violation);
  if (!v.success) throw fail(`violation: ${firstIssue(v.error)}`);
  return violationWithSeq(e.seq, v.data);
}

/** After the last event: as many as expected, the last a run.end that counts them. */
function checkEnd(
  file: string,
  expected: number,
  count: number,
  last: Pick<CheckedEvent, 'lineNo' | 'event'> | null,
): void {
  if (count < expected) {
    throw new LogFileError(
      file,
      last === null ? 2 : last.lineNo + 1,
      `expected ${expected} events, found ${count}`,
    );
  }
  if (last?.event.type !== 'run.end') {
    throw new LogFileError(
      file,
      last?.lineNo ?? null,
      `the last event is a ${last?.event.type}, not run.end`,
    );
  }
  const end = runEndSchema.safeParse(last.event.payload);
  if (!end.success) throw new LogFileError(file, last.lineNo, `run.end: ${firstIssue(end.error)}`);
  if (end.data.events !== count) {
    throw new LogFileError(
      file,
      last.lineNo,
      `run.end says ${end.data.events} events, the log has ${count}`,
    );
  }
}

/**
 * The events of a version 1 file, checked line by line as they always were: each line a canonical
 * event line, seq 0..N-1 with no gap, ids unique, each causationId an earlier event's id, run.start
 * first and run.end last, N as the header says; after the last line, the lines' hash against the
 * header's (LogHashMismatchError, the line not known yet).
 */
async function* expandedEvents(file: string, header: LogHeader): AsyncGenerator<ExpandedEventLine> {
  const expected = header.events;
  const hasher = new LogHasher();
  const sequence = new EventSequence(expected);
  let count = 0;
  let lineNo = 0;
  let last: ExpandedEventLine | null = null;
  for await (const line of fileLines(file)) {
    lineNo++;
    if (lineNo === 1) continue;
    const fail = (reason: string): LogFileError => new LogFileError(file, lineNo, reason);
    sequence.full(fail);
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
    sequence.event(e, lineNo, fail);
    if (e.type === 'violation') checked.violation = violationOf(e, fail);
    if (count === 0) runStartChecked(file, header, e, line, lineNo);
    hasher.update(line);
    count++;
    last = checked;
    yield checked;
  }
  checkEnd(file, expected, count, last);
  const linesHash = hasher.digest();
  if (linesHash !== header.logHash) {
    throw new LogHashMismatchError(file, header.logHash, linesHash);
  }
}

/**
 * A version 1 file, checked whole against its own logHash, written out in format 2 to a
 * temporary file and opened as that. A hash that does not hold is located by re-executing the
 * run: the first line that is not what the run produced is named.
 */
async function convertExpanded(file: string, header: LogHeader): Promise<LogFile> {
  const dir = await mkdtemp(join(tmpdir(), 'mnsim-log-'));
  try {
    const body = join(dir, 'lines');
    const fd = openSync(body, 'w');
    const interner = new LogInterner();
    const hasher = new LogHasher();
    const out: string[] = [];
    let pending = '';
    try {
      for await (const c of expandedEvents(file, header)) {
        interner.push(c.event, out);
        for (const l of out) {
          hasher.update(l);
          pending += l + '\n';
        }
        out.length = 0;
        if (pending.length > 1 << 20) {
          writeSync(fd, pending);
          pending = '';
        }
      }
      writeSync(fd, pending);
    } catch (err) {
      if (err instanceof LogHashMismatchError) throw firstExpandedDifference(file, err);
      if (err instanceof LogFormatError) throw new LogFileError(file, null, err.message);
      throw err;
    } finally {
      closeSync(fd);
    }
    const converted: LogHeader = {
      ...header,
      version: LOG_FORMAT_VERSION,
      logHash: hasher.digest(),
    };
    const path = join(dir, basename(file));
    const w = createWriteStream(path);
    w.write(logHeaderLine(converted) + '\n');
    await pipeline(createReadStream(body), w);
    await rm(body);
    return await LogFile.openFormat2(file, converted, path, dir);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Every line of a version 1 file is well formed, yet the lines do not hash to the header's
 * logHash: some line was changed and still reads as an event. The model is deterministic, so
 * re-executing the run names the first line that is not what the run produced.
 */
function firstExpandedDifference(file: string, err: LogHashMismatchError): LogHashMismatchError {
  try {
    const reader = new SyncFileLines(file);
    const head = reader.next();
    const firstLine = reader.next();
    if (head === null || firstLine === null) return err;
    const first = parseEventLine(firstLine, 2, file);
    const start = runStartOf(
      first.event.payload,
      firstLine,
      (reason) => new LogFileError(file, 2, reason),
    );
    let seq = 0;
    let differs: number | null =
      canonicalEventLineFromPayload(first.event, first.payloadText) === firstLine ? null : 0;
    if (differs === null) {
      simulate(start.scenario, {
        kernel: start.kernel,
        seed: start.seed,
        keepKernelLog: false,
        onEvent: (e) => {
          if (differs !== null || e.seq === 0) return;
          seq = e.seq;
          const line = canonicalEventLineFromPayload(e, encodePayload(e.type, e.payload));
          if (line !== reader.next()) differs = e.seq;
        },
      });
      if (differs === null && reader.next() !== null) differs = seq + 1;
    }
    reader.close();
    return differs === null
      ? new LogHashMismatchError(
          file,
          err.headerHash,
          err.linesHash,
          1,
          'every event line is what a re-execution of the run gives, so the header is wrong',
        )
      : new LogHashMismatchError(
          file,
          err.headerHash,
          err.linesHash,
          lineOfSeq(differs),
          `this is the first line that differs from a re-execution of the run (seq ${differs})`,
        );
  } catch {
    return err;
  }
}

/** A file's lines read synchronously, for comparing them with a synchronous re-execution. */
class SyncFileLines {
  private readonly fd: number;
  private buf = Buffer.allocUnsafe(1 << 20);
  private pos = 0;
  private end = 0;
  private eof = false;

  constructor(file: string) {
    this.fd = openSync(file, 'r');
  }

  /** The next line without its "\n", or null at the end. */
  next(): string | null {
    for (;;) {
      const nl = this.buf.indexOf(10, this.pos);
      if (nl !== -1 && nl < this.end) {
        const line = this.buf.toString('utf8', this.pos, nl);
        this.pos = nl + 1;
        return line;
      }
      if (this.eof) {
        if (this.pos === this.end) return null;
        const line = this.buf.toString('utf8', this.pos, this.end);
        this.pos = this.end;
        return line;
      }
      this.buf.copyWithin(0, this.pos, this.end);
      this.end -= this.pos;
      this.pos = 0;
      if (this.end === this.buf.length) {
        if (this.buf.length >= MAX_LINE_BYTES) throw new Error('line too long');
        const bigger = Buffer.allocUnsafe(this.buf.length * 2);
        this.buf.copy(bigger, 0, 0, this.end);
        this.buf = bigger;
      }
      const n = readSync(this.fd, this.buf, this.end, this.buf.length - this.end, null);
      if (n === 0) this.eof = true;
      this.end += n;
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Parses one event line and checks that it is canonical, byte for byte. */
function parseEventLine(line: string, lineNo: number, file: string): ExpandedEventLine {
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
        onLine: (line) => {
          pending += line + '\n';
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
    out.write(logHeaderLine(header) + '\n');
    await pipeline(createReadStream(body), out);
    return { header, result };
  } finally {
    await rm(body, { force: true });
  }
}
