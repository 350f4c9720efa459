/**
 * `mnsim import <log.jsonl>`: a log file into the store, as the completed run it records. The file
 * is read twice, as a stream both times: once to check all of it (nothing is written for a log
 * that is refused), once to write it. Importing the same log again changes nothing. A version 1
 * log (format 1) is checked against its own logHash, and stored as the format 2 log it converts
 * to: the run's logHash is that log's.
 */
import { MnsimError } from '@mnsim/errors';
import type { Store } from '@mnsim/store';
import { envelopeOf } from '@mnsim/events';
import { LogFile, LogHashMismatchError, lineOfIndex } from './log-file.js';
import { firstDifferenceFromModel } from './replay.js';

/** Flush the store's sink every so many events, so memory stays bounded on Postgres too. */
const FLUSH_EVERY = 50_000;

export interface ImportResult {
  runId: string;
  scenario: string;
  kernel: string;
  arch: string;
  seed: number;
  events: number;
  logHash: string;
  violations: number;
  /** false when the store already held this run with this very log: nothing was written */
  imported: boolean;
}

/** The store holds another run, or an unfinished one, under the log's run id (exit status 2). */
export class ImportConflictError extends MnsimError {
  constructor(message: string) {
    super(message, 'conflict');
  }
}

/**
 * @throws LogFileError naming the file and the first bad line (exit 2), ImportConflictError
 */
export async function importLogFile(store: Store, file: string): Promise<ImportResult> {
  const log = await LogFile.open(file);
  try {
    return await importLog(store, file, log);
  } finally {
    await log.close();
  }
}

async function importLog(store: Store, file: string, log: LogFile): Promise<ImportResult> {
  const h = log.header;
  let violations = 0;
  try {
    for await (const e of log.checkedEvents()) if (e.violation) violations++;
  } catch (err) {
    if (err instanceof LogHashMismatchError) throw await locateMismatch(log, err);
    throw err;
  }
  const result: ImportResult = {
    runId: h.runId,
    scenario: h.scenario,
    kernel: h.kernel,
    arch: h.arch,
    seed: h.seed,
    events: h.events,
    logHash: h.logHash,
    violations,
    imported: true,
  };

  const existing = await store.getRun(h.runId);
  if (existing !== null) {
    if (
      existing.status === 'completed' &&
      existing.logHash === h.logHash &&
      existing.events === h.events
    ) {
      return { ...result, imported: false };
    }
    throw new ImportConflictError(
      existing.status === 'completed'
        ? `${file}: run ${h.runId} is already in the store with another log (${existing.events} events, ${existing.logHash})`
        : `${file}: run ${h.runId} is already in the store and ${existing.status}; it cannot be imported over`,
    );
  }

  await store.createRun({
    runId: h.runId,
    scenario: h.scenario,
    kernel: h.kernel,
    arch: h.arch,
    seed: h.seed,
  });
  const sink = store.createEventSink(h.runId, {
    scenario: h.scenario,
    kernel: h.kernel,
    arch: h.arch,
  });
  // wall clock is metadata, never part of the log: the time of the import
  const recordedAt = new Date().toISOString();
  try {
    let n = 0;
    for await (const c of log.checkedEvents()) {
      sink.append(envelopeOf(h.runId, c.event, recordedAt), c.lines);
      if (c.violation) sink.appendViolation(c.event.id, c.violation, recordedAt);
      if (++n % FLUSH_EVERY === 0) await sink.flush();
    }
    await sink.flush();
  } catch (err) {
    // e.g. the file changed since it was checked, or the database went away
    await sink.flush().catch(() => undefined);
    await store
      .finishRun(h.runId, {
        status: 'failed',
        events: 0,
        logHash: null,
        violations: 0,
        failureReason: `import of ${file} failed: ${err instanceof Error ? err.message : String(err)}`,
      })
      .catch(() => undefined);
    throw err;
  }
  await store.finishRun(h.runId, {
    status: 'completed',
    events: h.events,
    logHash: h.logHash,
    violations,
  });
  return result;
}

/**
 * Every line is well formed, yet the lines do not hash to the header's logHash: some line was
 * changed and still reads as an event. The model is deterministic, so re-executing the run names
 * the first line that is not what the run produced.
 */
async function locateMismatch(
  log: LogFile,
  err: LogHashMismatchError,
): Promise<LogHashMismatchError> {
  try {
    const d = await firstDifferenceFromModel(log);
    return d === null
      ? new LogHashMismatchError(
          log.file,
          err.headerHash,
          err.linesHash,
          1,
          'every event line is what a re-execution of the run gives, so the header is wrong',
        )
      : new LogHashMismatchError(
          log.file,
          err.headerHash,
          err.linesHash,
          lineOfIndex(d.lineIndex),
          `this is the first line that differs from a re-execution of the run (seq ${d.seq})`,
        );
  } catch {
    return err;
  }
}
