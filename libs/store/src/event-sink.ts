import type BetterSqlite3 from 'better-sqlite3';
import type { DataSource } from 'typeorm';
import type { Violation } from '@mnsim/events';
import { SQLITE_BATCH_ROWS } from './raw-sqlite-rate.js';
import {
  type EventInsert,
  eventRecord,
  type LogDefRecord,
  type RunLabels,
  type ViolationInsert,
  violationRecord,
} from './rows.js';
import type { SerialQueue } from './serial-queue.js';
import type { EventSink, EventSinkOptions, LoggedEvent } from './types.js';
import { positiveInt, wallClock } from './values.js';

/*
 * The embedded engine's hot path. The design requires persisting events at no less than half the
 * rate raw better-sqlite3 inserts them into the same table, so on SQLite this bypasses TypeORM's
 * query builder (which builds SQL text and converts values per row) and drives the driver's own
 * better-sqlite3 connection directly: statements prepared once, one synchronous `db.transaction`
 * per batch of 5,000 rows. On Postgres it sends multi-row INSERTs (one round trip per ~2,000 rows)
 * through the DataSource's pool. Both use ON CONFLICT DO NOTHING, so a batch written twice (a
 * retried flush, a replayed run) changes nothing.
 */

const EVENT_COLUMNS = [
  'run_id',
  'seq',
  'id',
  'type',
  'causation_id',
  'jiffies',
  'payload',
  'recorded_at',
] as const;

const DEF_COLUMNS = ['run_id', 'id', 'first_seq', 'kind', 'value'] as const;

const VIOLATION_COLUMNS = [
  'run_id',
  'seq',
  'event_id',
  'jiffies',
  'site',
  'in_atomic',
  'irqs_disabled',
  'non_block',
  'pid',
  'comm',
  'reported',
  'signature',
  'stack',
  'text',
  'scenario',
  'kernel',
  'arch',
  'recorded_at',
  'kind',
] as const;

const quoteList = (columns: readonly string[]): string => columns.map((c) => `"${c}"`).join(', ');

/** Writes one batch of rows, all or nothing. */
export interface BatchWriter {
  write(events: EventInsert[], defs: LogDefRecord[], violations: ViolationInsert[]): Promise<void>;
}

/** SQLite: cached prepared statements and one synchronous transaction per batch. */
export class SqliteBatchWriter implements BatchWriter {
  private readonly insertEvent: BetterSqlite3.Statement;
  private readonly insertDef: BetterSqlite3.Statement;
  private readonly insertViolation: BetterSqlite3.Statement;
  readonly writeSync: (
    events: EventInsert[],
    defs: LogDefRecord[],
    violations: ViolationInsert[],
  ) => void;

  constructor(readonly db: BetterSqlite3.Database) {
    this.insertEvent = db.prepare(
      `INSERT INTO "events" (${quoteList(EVENT_COLUMNS)}) ` +
        `VALUES (${EVENT_COLUMNS.map(() => '?').join(', ')}) ON CONFLICT DO NOTHING`,
    );
    this.insertDef = db.prepare(
      `INSERT INTO "log_defs" (${quoteList(DEF_COLUMNS)}) ` +
        `VALUES (${DEF_COLUMNS.map(() => '?').join(', ')}) ON CONFLICT DO NOTHING`,
    );
    this.insertViolation = db.prepare(
      `INSERT INTO "violations" (${quoteList(VIOLATION_COLUMNS)}) ` +
        `VALUES (${VIOLATION_COLUMNS.map(() => '?').join(', ')}) ON CONFLICT DO NOTHING`,
    );
    this.writeSync = db.transaction(
      (events: EventInsert[], defs: LogDefRecord[], violations: ViolationInsert[]) => {
        const insertEvent = this.insertEvent;
        for (const e of events) {
          insertEvent.run(
            e.runId,
            e.seq,
            e.id,
            e.type,
            e.causationId,
            e.jiffies,
            e.payload,
            e.recordedAt,
          );
        }
        for (const d of defs) this.insertDef.run(d.runId, d.id, d.firstSeq, d.kind, d.value);
        for (const v of violations) {
          const params: unknown[] = [];
          violationParams(v, params);
          params[REPORTED] = v.reported ? 1 : 0; // better-sqlite3 binds no booleans
          this.insertViolation.run(...params);
        }
      },
    );
  }

  write(events: EventInsert[], defs: LogDefRecord[], violations: ViolationInsert[]): Promise<void> {
    this.writeSync(events, defs, violations);
    return Promise.resolve();
  }
}

/** Postgres caps a statement at 65,535 parameters; stay well under it. */
const PG_MAX_PARAMS = 30_000;

/** Postgres: multi-row INSERT … VALUES (…),(…) ON CONFLICT DO NOTHING, one transaction per batch. */
export class PostgresBatchWriter implements BatchWriter {
  private readonly sqlCache = new Map<string, string>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly schema: string | null,
  ) {}

  async write(
    events: EventInsert[],
    defs: LogDefRecord[],
    violations: ViolationInsert[],
  ): Promise<void> {
    if (events.length === 0 && violations.length === 0) return;
    await this.dataSource.transaction(async (manager) => {
      await this.insertChunks('events', EVENT_COLUMNS, events, eventParams, (sql, params) =>
        manager.query(sql, params),
      );
      await this.insertChunks('log_defs', DEF_COLUMNS, defs, defParams, (sql, params) =>
        manager.query(sql, params),
      );
      await this.insertChunks(
        'violations',
        VIOLATION_COLUMNS,
        violations,
        violationParams,
        (sql, params) => manager.query(sql, params),
      );
    });
  }

  private async insertChunks<T>(
    table: string,
    columns: readonly string[],
    rows: T[],
    params: (row: T, out: unknown[]) => void,
    query: (sql: string, params: unknown[]) => Promise<unknown>,
  ): Promise<void> {
    const perStatement = Math.floor(PG_MAX_PARAMS / columns.length);
    for (let from = 0; from < rows.length; from += perStatement) {
      const chunk = rows.slice(from, from + perStatement);
      const values: unknown[] = [];
      for (const row of chunk) params(row, values);
      await query(this.insertSql(table, columns, chunk.length), values);
    }
  }

  private insertSql(table: string, columns: readonly string[], rows: number): string {
    const key = `${table}:${rows}`;
    let sql = this.sqlCache.get(key);
    if (sql === undefined) {
      const tuples: string[] = [];
      for (let r = 0; r < rows; r++) {
        const base = r * columns.length;
        tuples.push(`(${columns.map((_, c) => `$${base + c + 1}`).join(', ')})`);
      }
      const target = this.schema === null ? `"${table}"` : `"${this.schema}"."${table}"`;
      sql = `INSERT INTO ${target} (${quoteList(columns)}) VALUES ${tuples.join(', ')} ON CONFLICT DO NOTHING`;
      // only full chunks recur; the last, partial one of a batch is not worth keeping
      if (this.sqlCache.size < 12) this.sqlCache.set(key, sql);
    }
    return sql;
  }
}

function eventParams(e: EventInsert, out: unknown[]): void {
  out.push(e.runId, e.seq, e.id, e.type, e.causationId, e.jiffies, e.payload, e.recordedAt);
}

function defParams(d: LogDefRecord, out: unknown[]): void {
  out.push(d.runId, d.id, d.firstSeq, d.kind, d.value);
}

function violationParams(v: ViolationInsert, out: unknown[]): void {
  out.push(
    v.runId,
    v.seq,
    v.eventId,
    v.jiffies,
    v.site,
    v.inAtomic,
    v.irqsDisabled,
    v.nonBlock,
    v.pid,
    v.comm,
    v.reported,
    v.signature,
    JSON.stringify(v.stack), // a JS array would be sent as a Postgres array, not as jsonb
    v.text,
    v.scenario,
    v.kernel,
    v.arch,
    v.recordedAt,
    v.kind,
  );
}

/** The place of `reported` among VIOLATION_COLUMNS. */
const REPORTED = VIOLATION_COLUMNS.indexOf('reported');

/** What a sink needs from its store. */
export interface SinkHost {
  readonly writer: BatchWriter;
  /**
   * SQLite only: the queue that serializes the store's use of its single connection, and the
   * synchronous writer. When the queue is idle and no transaction is open, a full batch is written
   * at once, inside `append`, so the buffer never grows past one batch.
   */
  readonly sqlite: { queue: SerialQueue; writer: SqliteBatchWriter } | null;
  assertOpen(): void;
  sinkBusy(sink: BufferedEventSink, busy: boolean): void;
}

export class BufferedEventSink implements EventSink {
  private events: EventInsert[] = [];
  private defs: LogDefRecord[] = [];
  private violations: ViolationInsert[] = [];
  /** recordedAt of the buffered `violation` events, for appendViolation */
  private violationEventTimes = new Map<string, string>();
  private lastEvent: { id: string; recordedAt: string } | null = null;
  /** the batches handed to the writer and not yet confirmed, in order */
  private pending: Promise<void> = Promise.resolve();
  private pendingCount = 0;
  private failure: { error: unknown } | null = null;
  private readonly batchSize: number;

  constructor(
    private readonly host: SinkHost,
    readonly runId: string,
    private readonly labels: RunLabels,
    opts: EventSinkOptions = {},
  ) {
    this.batchSize = positiveInt('batchSize', opts.batchSize ?? SQLITE_BATCH_ROWS);
  }

  append(event: LoggedEvent, lines: readonly string[]): void {
    this.throwIfFailed();
    const record = eventRecord(this.runId, event, lines, this.defs);
    this.markBusy();
    this.events.push(record);
    this.lastEvent = record;
    if (record.type === 'violation') this.violationEventTimes.set(record.id, record.recordedAt);
    if (this.events.length + this.violations.length >= this.batchSize) this.spill();
  }

  appendViolation(eventId: string, v: Violation, recordedAt?: string): void {
    this.throwIfFailed();
    const at =
      recordedAt ??
      this.violationEventTimes.get(eventId) ??
      (this.lastEvent?.id === eventId ? this.lastEvent.recordedAt : wallClock(new Date()));
    const record = violationRecord(this.runId, eventId, v, this.labels, at);
    this.markBusy();
    this.violations.push(record);
    if (this.events.length + this.violations.length >= this.batchSize) this.spill();
  }

  async flush(): Promise<void> {
    this.throwIfFailed();
    if (this.events.length > 0 || this.violations.length > 0) this.spill(true);
    await this.pending;
    this.throwIfFailed();
    if (this.pendingCount === 0 && this.events.length === 0 && this.violations.length === 0) {
      this.host.sinkBusy(this, false);
    }
  }

  get backlog(): number {
    return this.pendingCount;
  }

  async drained(): Promise<void> {
    await this.pending;
  }

  /** Hands the buffered rows to the writer: synchronously on an idle SQLite connection. */
  private spill(fromFlush = false): void {
    const events = this.events;
    const defs = this.defs;
    const violations = this.violations;
    this.events = [];
    this.defs = [];
    this.violations = [];
    this.violationEventTimes = new Map();
    const { sqlite } = this.host;
    if (
      !fromFlush &&
      sqlite !== null &&
      this.pendingCount === 0 &&
      sqlite.queue.idle &&
      !sqlite.writer.db.inTransaction
    ) {
      try {
        sqlite.writer.writeSync(events, defs, violations);
      } catch (error) {
        // reported to the caller of append right now; the sink stays failed
        this.failure = { error };
        this.host.sinkBusy(this, false);
        throw error;
      }
      return;
    }
    this.pendingCount += 1;
    const write = (): Promise<void> =>
      this.failure === null ? this.host.writer.write(events, defs, violations) : Promise.resolve();
    this.pending = this.pending
      .then(() => (sqlite === null ? write() : sqlite.queue.run(write)))
      .catch((error: unknown) => {
        this.failure ??= { error };
      })
      .finally(() => {
        this.pendingCount -= 1;
      });
  }

  private markBusy(): void {
    this.host.assertOpen();
    if (this.events.length === 0 && this.violations.length === 0) this.host.sinkBusy(this, true);
  }

  private throwIfFailed(): void {
    if (this.failure !== null) {
      // the failure reaches its caller here; close() has nothing left to flush for this sink
      this.host.sinkBusy(this, false);
      throw this.failure.error instanceof Error
        ? this.failure.error
        : new Error(`mnsim store: writing events failed: ${String(this.failure.error)}`);
    }
  }
}
