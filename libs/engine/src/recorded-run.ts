/**
 * A run recorded in the store, as replay reads it: its row says how many events and which logHash,
 * and the lines of its format 2 log, which the logHash covers, are streamed in order as stored.
 */
import { MnsimError } from '@mnsim/errors';
import { LogFormatError, LogHasher, expandLines, isEventLine } from '@mnsim/events';
import { type RunRow, type Store, type StoredLogEvent, observedRunHasNoLog } from '@mnsim/store';
import { LOG_FORMAT, LOG_FORMAT_VERSION, type LogHeader, logHeaderLine } from './log-file.js';
import { type RecordedLog, type RunStart, runStartOf } from './recorded-log.js';

/** Rows read per query while streaming a run's events. */
const EVENT_PAGE = 5000;

/** A run that cannot be replayed: 2 when it is the request (not completed), 3 when the store is damaged. */
export class RecordedRunError extends MnsimError {
  /** 2: the run cannot be replayed (it is not completed); 3: its log in the store is damaged */
  constructor(message: string, status: 2 | 3) {
    super(message, status === 2 ? 'conflict' : 'failed');
  }
}

/** What a recorded run is opened for, as the refusal of one that is not completed says it. */
export type RecordedRunUse = 'replay' | 'export';

const ONLY_COMPLETED: Record<RecordedRunUse, string> = {
  replay: 'only completed runs can be replayed',
  export: 'only completed runs have a log to export',
};

export class RecordedRun implements RecordedLog {
  private constructor(
    private readonly store: Store,
    readonly run: RunRow,
    readonly start: RunStart,
  ) {}

  /**
   * Opens a completed run by id or unique prefix, to replay it or to export its log.
   * @throws RunNotFoundError / AmbiguousRunIdError (exit 2), RecordedRunError
   */
  static async open(
    store: Store,
    ref: string,
    use: RecordedRunUse = 'replay',
  ): Promise<RecordedRun> {
    const runId = await store.resolveRunId(ref);
    return RecordedRun.ofRow(store, runId, await store.getRun(runId), use);
  }

  /**
   * Opens the run `runId` from its row, already read (null: gone since its id was resolved).
   * @throws RecordedRunError, as open()
   */
  static async ofRow(
    store: Store,
    runId: string,
    run: RunRow | null,
    use: RecordedRunUse = 'replay',
  ): Promise<RecordedRun> {
    if (run === null) throw new RecordedRunError(`no run matches '${runId}'`, 2);
    if (run.origin === 'observed') throw new RecordedRunError(observedRunHasNoLog(runId), 2);
    if (run.status !== 'completed' || run.logHash === null) {
      throw new RecordedRunError(
        `run ${runId} is ${run.status}${run.failureReason ? ` (${run.failureReason})` : ''}: ${ONLY_COMPLETED[use]}`,
        2,
      );
    }
    let first: StoredLogEvent | undefined;
    for await (const e of store.iterateLog(runId, 1)) {
      first = e;
      break;
    }
    const damaged = (reason: string): RecordedRunError =>
      new RecordedRunError(`run ${runId}: ${reason}; the store is damaged`, 3);
    if (first?.seq !== 0 || first.type !== 'run.start') {
      throw damaged('its log does not begin with run.start');
    }
    let payload: unknown;
    try {
      [{ payload }] = expandLines(first.lines, false);
    } catch (err) {
      if (!(err instanceof LogFormatError)) throw err;
      throw damaged(`its run.start cannot be read (${err.message})`);
    }
    const start = runStartOf(
      payload,
      first.lines[first.lines.length - 1],
      (reason) => new RecordedRunError(`run ${runId} cannot be replayed: ${reason}`, 2),
    );
    return new RecordedRun(store, run, start);
  }

  get origin(): string {
    return `run ${this.run.runId}`;
  }

  get runId(): string {
    return this.run.runId;
  }

  get events(): number {
    return this.run.events;
  }

  get logHash(): string {
    return this.run.logHash ?? '';
  }

  async *lines(): AsyncGenerator<string> {
    for await (const e of this.store.iterateLog(this.run.runId, EVENT_PAGE)) yield* e.lines;
  }

  /**
   * Line 1 of the run's log file, as `mnsim export` writes it: the run, and the version of the
   * lines after it with their logHash (the stored lines': LOG_FORMAT_VERSION and the run's).
   */
  headerLine(version: LogHeader['version'], logHash: string): string {
    // kernel, arch and seed as the log's run.start has them, which import checks the header against
    return logHeaderLine({
      format: LOG_FORMAT,
      version,
      runId: this.run.runId,
      scenario: this.run.scenario,
      kernel: this.start.kernel,
      arch: this.start.arch,
      seed: this.start.seed,
      events: this.run.events,
      logHash,
    });
  }

  /**
   * The run's log file, as `mnsim export` writes it (and GET /runs/:id/log answers): the header,
   * then the checked lines.
   */
  async *fileLines(): AsyncGenerator<string> {
    yield this.headerLine(LOG_FORMAT_VERSION, this.logHash);
    yield* this.checkedLines();
  }

  /** The stored lines, then a check that they are the run's count and hash, as export checks. */
  async *checkedLines(): AsyncGenerator<string> {
    const hasher = new LogHasher();
    let n = 0;
    for await (const line of this.lines()) {
      hasher.update(line);
      if (isEventLine(line)) n++;
      yield line;
    }
    const hash = hasher.digest();
    if (n !== this.run.events || hash !== this.run.logHash) {
      throw new RecordedRunError(
        `the stored log of run ${this.run.runId} does not match its run (${n} events, ${hash}; the run says ${this.run.events}, ${this.run.logHash}); the store is damaged`,
        3,
      );
    }
  }
}
