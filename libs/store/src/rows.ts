import {
  type DefKind,
  type EventType,
  type LogDef,
  LogFormatError,
  type Origin,
  type RunStatus,
  type Violation,
  bodyOfEventLine,
  parseDefLine,
} from '@mnsim/events';
import type { EventRecord, RunRecord, ViolationRecord } from './entities.js';
import { InvalidStoreInputError } from './errors.js';
import type { LoggedEvent, RunRow, RunSummaryRow, ViolationRow } from './types.js';
import { boolFromDb, intFromDb, isoFromDb, stringArrayFromDb, wallClock } from './values.js';

/** Conversions between the API's shapes and the table rows, shared by every write path. */

/** rows as written: wall clock already normalized to ISO text */
export type EventInsert = EventRecord & { recordedAt: string };
export type ViolationInsert = ViolationRecord & { recordedAt: string };

/** A definition of a run's format 2 log, with the seq of the event that first uses it. */
export interface LogDefRecord {
  runId: string;
  id: number;
  firstSeq: number;
  kind: string;
  value: string;
}

/**
 * The row of an event (its body in `payload`), and those of the definitions it is the first to
 * use, pushed onto `defs`.
 * @throws InvalidStoreInputError when the event is not the run's or its lines are not its own
 */
export function eventRecord(
  runId: string,
  event: LoggedEvent,
  lines: readonly string[],
  defs: LogDefRecord[],
): EventInsert {
  if (event.runId !== runId) {
    throw new InvalidStoreInputError(
      `event ${event.id} belongs to run '${event.runId}', not to run '${runId}'`,
    );
  }
  const last = lines.length - 1;
  let payload: string;
  const own: LogDef[] = [];
  try {
    payload = bodyOfEventLine(event, lines[last] ?? '');
    for (let i = 0; i < last; i++) own.push(parseDefLine(lines[i]));
  } catch (err) {
    if (!(err instanceof LogFormatError)) throw err;
    throw new InvalidStoreInputError(`event ${event.id} (seq ${event.seq}): ${err.message}`);
  }
  for (const d of own) {
    defs.push({ runId, id: d.id, firstSeq: event.seq, kind: d.kind, value: d.value });
  }
  return {
    runId,
    seq: event.seq,
    id: event.id,
    type: event.type,
    causationId: event.causationId,
    jiffies: event.jiffies,
    payload,
    recordedAt: wallClock(event.recordedAt),
  };
}

export interface RunLabels {
  scenario: string;
  kernel: string;
  arch: string;
}

export function violationRecord(
  runId: string,
  eventId: string,
  v: Violation,
  labels: RunLabels,
  recordedAt: string,
): ViolationInsert {
  return {
    runId,
    seq: v.seq,
    kind: v.kind,
    eventId,
    jiffies: v.jiffies,
    site: v.site,
    inAtomic: v.inAtomic,
    irqsDisabled: v.irqsDisabled,
    nonBlock: v.nonBlock,
    pid: v.pid,
    comm: v.comm,
    reported: v.reported,
    signature: v.signature,
    stack: v.stack,
    text: v.text,
    scenario: labels.scenario,
    kernel: labels.kernel,
    arch: labels.arch,
    recordedAt: wallClock(recordedAt),
  };
}

export function runRow(r: RunRecord): RunRow {
  return { ...runSummaryRow(r), source: r.source };
}

/** The columns of a run but its source, as listings select them. */
export const RUN_SUMMARY_COLUMNS = [
  'runId',
  'scenario',
  'kernel',
  'arch',
  'seed',
  'status',
  'events',
  'logHash',
  'violations',
  'failureReason',
  'createdAt',
  'finishedAt',
  'origin',
] as const;

export function runSummaryRow(r: Omit<RunRecord, 'source'>): RunSummaryRow {
  return {
    runId: r.runId,
    scenario: r.scenario,
    kernel: r.kernel,
    arch: r.arch,
    seed: intFromDb(r.seed),
    status: r.status as RunStatus,
    events: intFromDb(r.events),
    logHash: r.logHash,
    violations: intFromDb(r.violations),
    failureReason: r.failureReason,
    createdAt: isoFromDb(r.createdAt),
    finishedAt: r.finishedAt === null ? null : isoFromDb(r.finishedAt),
    origin: r.origin as Origin,
  };
}

/** a row of the raw events SELECT (columns aliased to the property names): its body in `payload` */
export function storedLogRow(r: Record<string, unknown>): { event: LoggedEvent; body: string } {
  return {
    event: {
      runId: r.runId as string,
      id: r.id as string,
      seq: intFromDb(r.seq),
      type: r.type as EventType,
      causationId: (r.causationId as string | null) ?? null,
      jiffies: intFromDb(r.jiffies),
      recordedAt: isoFromDb(r.recordedAt),
    },
    body: r.payload as string,
  };
}

/** a row of the raw log_defs SELECT */
export function logDefRow(r: Record<string, unknown>): LogDef & { firstSeq: number } {
  return {
    id: intFromDb(r.id),
    kind: r.kind as DefKind,
    value: r.value as string,
    firstSeq: intFromDb(r.firstSeq),
  };
}

export function violationRow(r: ViolationRecord): ViolationRow {
  return {
    runId: r.runId,
    origin: (r.origin ?? 'simulated') as Origin,
    eventId: r.eventId,
    scenario: r.scenario,
    kernel: r.kernel,
    arch: r.arch,
    recordedAt: isoFromDb(r.recordedAt),
    seq: intFromDb(r.seq),
    kind: r.kind,
    jiffies: intFromDb(r.jiffies),
    site: r.site,
    inAtomic: intFromDb(r.inAtomic),
    irqsDisabled: intFromDb(r.irqsDisabled),
    nonBlock: intFromDb(r.nonBlock),
    pid: intFromDb(r.pid),
    comm: r.comm,
    reported: boolFromDb(r.reported),
    signature: r.signature,
    stack: stringArrayFromDb(r.stack),
    text: r.text,
  };
}
