import { stat } from 'node:fs/promises';
import type { DataSource, ObjectLiteral, QueryResult, SelectQueryBuilder } from 'typeorm';
import { signatureKind } from '@mnsim/kernel';
import { LRUCache } from 'lru-cache';
import {
  type CanonicalEvent,
  type LogDef,
  LogExpander,
  LogFormatError,
  defLine,
  eventLine,
} from '@mnsim/events';
import { openDataSource, type SqliteFileIdentity, sqliteHandle } from './data-source.js';
import {
  buildEntities,
  type LogDefEntity,
  type RunRecord,
  type SignatureRollupRecord,
  type StoreEntities,
  type ViolationRecord,
} from './entities.js';
import {
  AMBIGUOUS_LISTED,
  AmbiguousRunIdError,
  InvalidStoreInputError,
  RunConflictError,
  RunNotFoundError,
  StoreError,
  StoreGoneError,
} from './errors.js';
import {
  type BatchWriter,
  BufferedEventSink,
  PostgresBatchWriter,
  type SinkHost,
  SqliteBatchWriter,
} from './event-sink.js';
import { backfill, qualifiedNames } from './migrations/1795564800000-signature-rollup.js';
import {
  RUN_SUMMARY_COLUMNS,
  eventRecord,
  type LogDefRecord,
  logDefRow,
  runRow,
  runSummaryRow,
  storedLogRow,
  violationRecord,
  violationRow,
} from './rows.js';
import { SerialQueue } from './serial-queue.js';
import {
  type Dialect,
  type EventSink,
  type EventSinkMeta,
  type EventSinkOptions,
  type EventToAppend,
  MAX_PAGE_SIZE,
  type NewRun,
  type ObservedRun,
  type Page,
  type RunFilter,
  type RunCounts,
  type RunResult,
  type RunRow,
  type RunSummaryRow,
  type CampaignRow,
  type SignatureCell,
  type SignatureGroup,
  type StaleRunsOptions,
  type Store,
  type StoredEvent,
  type StoredLogEvent,
  type StoreOptions,
  type ViolationFilter,
  type ViolationQuery,
  type ViolationRow,
  type ViolationToAppend,
} from './types.js';
import {
  decodeCursor,
  encodeCursor,
  intFromDb,
  isoFromDb,
  positiveInt,
  stringArrayFromDb,
  wallClock,
} from './values.js';

/** Opens (and migrates) the store: SQLite by default, Postgres when `url` is given. */
export async function openStore(opts: StoreOptions = {}): Promise<Store> {
  const opened = await openDataSource(opts);
  return new TypeOrmStore(opened.dataSource, opened.dialect, opened.schema, opened.sqliteFile);
}

const DEFAULT_EVENT_PAGE = 1000;
/** Appends committed together at most (the writer splits a group's rows into statements) */
const APPENDS_PER_GROUP = 256;

/** An append waiting for its group's commit. */
interface PendingAppend {
  eventRows: ReturnType<typeof eventRecord>[];
  defRows: LogDefRecord[];
  violationRows: ReturnType<typeof violationRecord>[];
  resolve: () => void;
  reject: (err: unknown) => void;
}
/** Observed findings per INSERT (a statement's parameters are bounded: 20 columns each) */
const OBSERVED_PER_INSERT = 500;
/** Signatures per statement when deleteViolations rebuilds their rollup */
const SIGNATURES_PER_REBUILD = 500;

/** The columns of `runs` under the names of RunRecord, for a RETURNING clause. */
const RUN_RECORD_COLUMNS = [
  '"run_id" AS "runId"',
  '"scenario"',
  '"kernel"',
  '"arch"',
  '"seed"',
  '"status"',
  '"events"',
  '"log_hash" AS "logHash"',
  '"violations"',
  '"failure_reason" AS "failureReason"',
  '"created_at" AS "createdAt"',
  '"finished_at" AS "finishedAt"',
  '"source"',
  '"origin"',
].join(', ');

class TypeOrmStore implements Store, SinkHost {
  private readonly entities: StoreEntities;
  /** SQLite has one connection shared by all callers: see SerialQueue */
  private readonly queue: SerialQueue | null;
  readonly sqlite: SinkHost['sqlite'];
  readonly writer: BatchWriter;
  /** sinks holding rows not yet written, flushed by close() */
  private readonly busySinks = new Set<BufferedEventSink>();
  private closed = false;
  private closing: Promise<void> | null = null;
  /** appends waiting for the next group commit, and the loop committing them */
  private readonly pendingAppends: PendingAppend[] = [];
  /** readEvents' expanders of the runs read last: see expanderFor */
  private readonly expanders = new LRUCache<string, LogExpander>({ max: 16 });
  private appendCommitter: Promise<void> | null = null;

  constructor(
    private readonly dataSource: DataSource,
    readonly dialect: Dialect,
    private readonly schema: string | null,
    private readonly sqliteFile: SqliteFileIdentity | null = null,
  ) {
    this.entities = buildEntities(dialect);
    if (dialect === 'sqlite') {
      const writer = new SqliteBatchWriter(sqliteHandle(dataSource));
      this.queue = new SerialQueue();
      this.sqlite = { queue: this.queue, writer };
      this.writer = writer;
    } else {
      this.queue = null;
      this.sqlite = null;
      this.writer = new PostgresBatchWriter(dataSource, schema);
    }
  }

  async createRun(run: NewRun): Promise<void> {
    if (!Number.isSafeInteger(run.seed)) {
      throw new InvalidStoreInputError(`seed must be an integer, got ${run.seed}`);
    }
    const record: RunRecord = {
      runId: nonEmpty('runId', run.runId),
      scenario: run.scenario,
      kernel: run.kernel,
      arch: run.arch,
      seed: run.seed,
      status: 'running',
      events: 0,
      logHash: null,
      violations: 0,
      failureReason: null,
      createdAt: wallClock(new Date()),
      finishedAt: null,
      source: run.source ?? null,
      origin: 'simulated',
    };
    await this.exclusive(async () => {
      // idempotent for a redelivered "start run": the first insert wins, the same run again is a no-op
      await this.dataSource
        .createQueryBuilder()
        .insert()
        .into(this.entities.runs)
        .values(record)
        .orIgnore()
        .updateEntity(false)
        .execute();
      const existing = await this.findRun(run.runId);
      if (existing === null) throw new RunNotFoundError(run.runId);
      for (const key of ['scenario', 'kernel', 'arch', 'seed'] as const) {
        if (existing[key] !== run[key]) {
          throw new RunConflictError(
            run.runId,
            `${key} (${String(existing[key])}, not ${String(run[key])})`,
          );
        }
      }
    });
  }

  /**
   * Appends are committed in groups: the rows of every append that arrives while a commit is in
   * flight go into the next one, as multi-row inserts in a single transaction (one WAL flush on
   * Postgres instead of one per append). Each append is still all or nothing: when a group fails,
   * its appends are committed one by one, so only the faulty one fails.
   */
  async appendEvents(
    runId: string,
    events: EventToAppend[],
    violations: ViolationToAppend[],
  ): Promise<void> {
    if (events.length === 0 && violations.length === 0) return;
    const defRows: LogDefRecord[] = [];
    const eventRows = events.map(({ event, lines }) => eventRecord(runId, event, lines, defRows));
    const eventTimes = new Map(eventRows.map((e) => [e.id, e.recordedAt]));
    const now = wallClock(new Date());
    const violationRows = violations.map((x) =>
      violationRecord(runId, x.eventId, x.v, x, x.recordedAt ?? eventTimes.get(x.eventId) ?? now),
    );
    this.assertOpen();
    return new Promise((resolve, reject) => {
      this.pendingAppends.push({ eventRows, defRows, violationRows, resolve, reject });
      this.appendCommitter ??= this.commitAppends();
    });
  }

  /** Commits the pending appends in groups until none is left. */
  private async commitAppends(): Promise<void> {
    try {
      while (this.pendingAppends.length > 0) {
        const group = this.pendingAppends.splice(0, APPENDS_PER_GROUP);
        try {
          await this.insertAppends(group);
          for (const a of group) a.resolve();
        } catch (err) {
          if (group.length === 1) {
            group[0].reject(err);
            continue;
          }
          for (const a of group) {
            await this.insertAppends([a]).then(a.resolve, a.reject);
          }
        }
      }
    } finally {
      this.appendCommitter = null;
    }
  }

  /**
   * One group's rows in one transaction, through the writer the event sink uses: prepared
   * statements on SQLite, multi-row INSERT … ON CONFLICT DO NOTHING on Postgres. TypeORM's
   * insert builder cost the auditor half its CPU here (it builds and escapes every value).
   */
  private insertAppends(group: PendingAppend[]): Promise<void> {
    const eventRows = group.flatMap((a) => a.eventRows);
    const defRows = group.flatMap((a) => a.defRows);
    const violationRows = group.flatMap((a) => a.violationRows);
    return this.exclusive(() => this.writer.write(eventRows, defRows, violationRows));
  }

  async finishRun(runId: string, result: RunResult): Promise<void> {
    for (const key of ['events', 'violations'] as const) {
      if (!Number.isSafeInteger(result[key]) || result[key] < 0) {
        throw new InvalidStoreInputError(`${key} must be a count, got ${result[key]}`);
      }
    }
    const update = await this.exclusive(() =>
      this.dataSource
        .createQueryBuilder()
        .update(this.entities.runs)
        .set({
          status: result.status,
          events: result.events,
          logHash: result.logHash,
          violations: result.violations,
          failureReason: result.failureReason ?? null,
          finishedAt: wallClock(new Date()),
        })
        .where({ runId })
        .execute(),
    );
    if (!update.affected) throw new RunNotFoundError(runId);
  }

  async recordObservedRun(run: ObservedRun): Promise<boolean> {
    const now = wallClock(new Date());
    const record: RunRecord = {
      runId: nonEmpty('runId', run.runId),
      scenario: run.scenario,
      kernel: run.kernel,
      arch: run.arch,
      seed: 0,
      status: 'completed',
      events: 0,
      logHash: null,
      violations: run.findings.length,
      failureReason: null,
      createdAt: now,
      finishedAt: now,
      source: null,
      origin: 'observed',
    };
    const rows = run.findings.map(({ eventId, v }) => ({
      ...violationRecord(run.runId, eventId, v, run, now),
      origin: 'observed',
    }));
    return this.exclusive(() =>
      this.dataSource.transaction(async (manager) => {
        // the same log recorded again: its run is there already, with its findings
        if (await manager.getRepository(this.entities.runs).existsBy({ runId: run.runId })) {
          return false;
        }
        await manager
          .createQueryBuilder()
          .insert()
          .into(this.entities.runs)
          .values(record)
          .updateEntity(false)
          .execute();
        for (let i = 0; i < rows.length; i += OBSERVED_PER_INSERT) {
          await manager
            .createQueryBuilder()
            .insert()
            .into(this.entities.violations)
            .values(rows.slice(i, i + OBSERVED_PER_INSERT))
            .updateEntity(false)
            .execute();
        }
        return true;
      }),
    );
  }

  getRun(runId: string): Promise<RunRow | null> {
    return this.exclusive(() => this.findRun(runId));
  }

  async listRuns(filter: RunFilter): Promise<Page<RunSummaryRow>> {
    const limit = positiveInt('limit', filter.limit, MAX_PAGE_SIZE);
    // not the sources: a page of runs of 1 MB scenarios would otherwise weigh 50 MB
    const qb = this.dataSource
      .getRepository(this.entities.runs)
      .createQueryBuilder('r')
      .select(RUN_SUMMARY_COLUMNS.map((c) => `r.${c}`));
    for (const key of ['origin', 'scenario', 'kernel', 'arch', 'status'] as const) {
      const value = filter[key];
      if (value !== undefined) qb.andWhere(`r.${key} = :${key}`, { [key]: value });
    }
    scenarioPrefixWhere(qb, 'r', filter.scenarioPrefix);
    if (filter.signature !== undefined) {
      // signature_runs (kept by the rollup's trigger) has every (signature, run) seen, by signature
      const { runs } = qualifiedNames(this.schema);
      qb.andWhere(`r.runId IN (SELECT "run_id" FROM ${runs} WHERE "signature" = :signature)`, {
        signature: filter.signature,
      });
    }
    if (filter.cursor) {
      const [createdAt, runId] = decodeCursor(filter.cursor, ['string', 'string']);
      qb.andWhere('(r.createdAt, r.runId) < (:cursorCreatedAt, :cursorRunId)', {
        cursorCreatedAt: createdAt,
        cursorRunId: runId,
      });
    }
    qb.orderBy('r.createdAt', 'DESC')
      .addOrderBy('r.runId', 'DESC')
      .limit(limit + 1);
    const records = await this.exclusive(() => qb.getMany());
    return page(records.map(runSummaryRow), limit, (r) => [r.createdAt, r.runId]);
  }

  async countRuns(): Promise<RunCounts> {
    const rows: { status: string; n: number | string }[] = await this.exclusive(() =>
      this.dataSource
        .getRepository(this.entities.runs)
        .createQueryBuilder('r')
        .select('r.status', 'status')
        .addSelect('COUNT(*)', 'n')
        .groupBy('r.status')
        .getRawMany(),
    );
    const counts: RunCounts = { running: 0, completed: 0, failed: 0 };
    for (const r of rows) counts[r.status as keyof RunCounts] = intFromDb(r.n);
    return counts;
  }

  async failStaleRuns(opts: StaleRunsOptions): Promise<RunRow[]> {
    if (!Number.isFinite(opts.olderThanMs) || opts.olderThanMs < 0) {
      throw new InvalidStoreInputError(
        `olderThanMs must be a duration in ms, got ${opts.olderThanMs}`,
      );
    }
    const reason = nonEmpty('reason', opts.reason);
    const now = opts.now ?? new Date();
    const cutoff = wallClock(new Date(now.getTime() - opts.olderThanMs));
    const runs = this.table('runs');
    const events = this.table('events');
    const param = (i: number): string => (this.dialect === 'postgres' ? `$${i}` : '?');
    // The run's latest event is the one of highest seq: one step down the primary key
    // (run_id, seq), however long the log. `"status" = 'running'` is a literal, so that the
    // planners use the partial index of running runs (RunningRunsIndex) instead of reading every
    // run. The status condition is evaluated again on the row being updated (Postgres waits for
    // a concurrent update of it; SQLite has one writer): a second sweep, or a finishRun, that
    // got there first leaves nothing to fail.
    const latestEvent =
      `(SELECT e."recorded_at" FROM ${events} e WHERE e."run_id" = ${runs}."run_id" ` +
      `ORDER BY e."seq" DESC LIMIT 1)`;
    const sql =
      `UPDATE ${runs} SET "status" = 'failed', "failure_reason" = ${param(1)}, ` +
      `"finished_at" = ${param(2)} ` +
      `WHERE "status" = 'running' AND "created_at" < ${param(3)} ` +
      `AND COALESCE(${latestEvent}, "created_at") < ${param(4)} ` +
      `RETURNING ${RUN_RECORD_COLUMNS}`;
    const params = [reason, wallClock(now), cutoff, cutoff];
    const records = await this.exclusive(async (): Promise<RunRecord[]> => {
      if (this.sqlite !== null) {
        return this.sqlite.writer.db.prepare<unknown[], RunRecord>(sql).all(...params);
      }
      const runner = this.dataSource.createQueryRunner();
      try {
        const result = (await runner.query(sql, params, true)) as QueryResult<RunRecord>;
        return result.records;
      } finally {
        await runner.release();
      }
    });
    return records
      .map(runRow)
      .sort((a, b) =>
        a.createdAt === b.createdAt
          ? a.runId.localeCompare(b.runId)
          : a.createdAt.localeCompare(b.createdAt),
      );
  }

  async checkPresent(): Promise<void> {
    this.assertOpen();
    const file = this.sqliteFile;
    if (file === null) return;
    let found: { dev: bigint; ino: bigint };
    try {
      found = await stat(file.path, { bigint: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') throw new StoreGoneError(file.path, false);
      throw err;
    }
    if (found.dev !== file.dev || found.ino !== file.ino) {
      throw new StoreGoneError(file.path, true);
    }
  }

  async resolveRunId(prefix: string): Promise<string> {
    const wanted = prefix.trim();
    if (wanted === '')
      throw new InvalidStoreInputError('a run id (or a prefix of one) is required');
    const matches = await this.exclusive(async () => {
      if ((await this.findRun(wanted)) !== null) return [wanted];
      // substr instead of LIKE: LIKE is case-insensitive on SQLite and treats % and _ as wildcards
      const rows: { runId: string }[] = await this.dataSource
        .getRepository(this.entities.runs)
        .createQueryBuilder('r')
        .select('r.runId', 'runId')
        .where('SUBSTR("r"."run_id", 1, :length) = :prefix', {
          length: [...wanted].length,
          prefix: wanted,
        })
        .orderBy('r.runId', 'ASC')
        .limit(AMBIGUOUS_LISTED + 1)
        .getRawMany();
      return rows.map((r) => r.runId);
    });
    if (matches.length === 0) throw new RunNotFoundError(wanted);
    if (matches.length > 1) {
      throw new AmbiguousRunIdError(
        wanted,
        matches.slice(0, AMBIGUOUS_LISTED),
        matches.length > AMBIGUOUS_LISTED,
      );
    }
    return matches[0];
  }

  async readEvents(
    runId: string,
    opts: { afterSeq?: number; limit: number },
  ): Promise<StoredEvent[]> {
    const rows = await this.readLogRows(runId, opts.afterSeq ?? -1, opts.limit);
    if (rows.length === 0) return [];
    const expander = await this.expanderFor(runId, rows[rows.length - 1].event.seq);
    return rows.map(({ event, body }) => {
      let e: CanonicalEvent;
      try {
        e = expander.expandBody(event, body);
      } catch (err) {
        if (!(err instanceof LogFormatError)) throw err;
        throw new StoreError(
          `run ${runId}, event ${event.id} (seq ${event.seq}) cannot be read: ${err.message}`,
          'failed',
        );
      }
      return { ...event, payload: e.payload };
    });
  }

  async *iterateEvents(
    runId: string,
    pageSize: number = DEFAULT_EVENT_PAGE,
  ): AsyncGenerator<StoredEvent> {
    const limit = positiveInt('pageSize', pageSize);
    let afterSeq = -1;
    while (true) {
      const events = await this.readEvents(runId, { afterSeq, limit });
      yield* events;
      if (events.length < limit) return;
      afterSeq = events[events.length - 1].seq;
    }
  }

  async *iterateLog(
    runId: string,
    pageSize: number = DEFAULT_EVENT_PAGE,
  ): AsyncGenerator<StoredLogEvent> {
    const limit = positiveInt('pageSize', pageSize);
    let afterSeq = -1;
    while (true) {
      const rows = await this.readLogRows(runId, afterSeq, limit);
      if (rows.length === 0) return;
      const last = rows[rows.length - 1].event.seq;
      const defs = await this.readDefs(runId, rows[0].event.seq, last);
      let d = 0;
      for (const { event, body } of rows) {
        const lines: string[] = [];
        while (d < defs.length && defs[d].firstSeq < event.seq) d++; // an event not stored (a gap)
        while (d < defs.length && defs[d].firstSeq === event.seq) lines.push(defLine(defs[d++]));
        lines.push(eventLine(event, body));
        yield { ...event, lines };
      }
      if (rows.length < limit) return;
      afterSeq = last;
    }
  }

  async readLogDefs(runId: string, upToSeq: number): Promise<LogDef[]> {
    const defs = await this.readDefs(runId, 0, upToSeq);
    return defs.map(({ id, kind, value }) => ({ id, kind, value }));
  }

  async nextSeq(runId: string): Promise<number> {
    const qb = this.dataSource
      .getRepository(this.entities.events)
      .createQueryBuilder('e')
      .select('MAX(e.seq)', 'last')
      .where('e.runId = :runId', { runId });
    const row = await this.exclusive(() => qb.getRawOne<{ last: unknown }>());
    return row?.last === null || row?.last === undefined ? 0 : intFromDb(row.last) + 1;
  }

  /** A page of the run's event rows in seq order, bodies unexpanded. */
  private async readLogRows(runId: string, afterSeq: number, limit: number) {
    const qb = this.dataSource
      .getRepository(this.entities.events)
      .createQueryBuilder('e')
      .select('e.runId', 'runId')
      .addSelect('e.id', 'id')
      .addSelect('e.seq', 'seq')
      .addSelect('e.type', 'type')
      .addSelect('e.causationId', 'causationId')
      .addSelect('e.jiffies', 'jiffies')
      .addSelect('e.payload', 'payload')
      .addSelect('e.recordedAt', 'recordedAt')
      .where('e.runId = :runId', { runId })
      .andWhere('e.seq > :afterSeq', { afterSeq })
      .orderBy('e.seq', 'ASC')
      .limit(positiveInt('limit', limit));
    const rows = await this.exclusive(() => qb.getRawMany<Record<string, unknown>>());
    return rows.map(storedLogRow);
  }

  /** The definitions first used by the events from `fromSeq` to `toSeq`, in id order. */
  private readDefs(runId: string, fromSeq: number, toSeq: number) {
    return this.queryDefs(
      this.defsOf(runId)
        .andWhere('d.firstSeq >= :fromSeq', { fromSeq })
        .andWhere('d.firstSeq <= :toSeq', { toSeq }),
    );
  }

  private defsOf(runId: string): SelectQueryBuilder<LogDefEntity> {
    return this.dataSource
      .getRepository(this.entities.logDefs)
      .createQueryBuilder('d')
      .select('d.id', 'id')
      .addSelect('d.kind', 'kind')
      .addSelect('d.value', 'value')
      .addSelect('d.firstSeq', 'firstSeq')
      .where('d.runId = :runId', { runId })
      .orderBy('d.id', 'ASC');
  }

  private async queryDefs(qb: SelectQueryBuilder<LogDefEntity>) {
    const rows = await this.exclusive(() => qb.getRawMany<Record<string, unknown>>());
    return rows.map(logDefRow);
  }

  /**
   * An expander holding the run's definitions, at least those the events up to `seq` use. Kept
   * for a few runs, since the API pages through a log: a definition never changes once stored,
   * and an expander only ever takes the next ones.
   */
  private async expanderFor(runId: string, seq: number): Promise<LogExpander> {
    let expander = this.expanders.get(runId);
    if (expander === undefined) {
      expander = new LogExpander({ verify: false });
      this.expanders.set(runId, expander);
    }
    const known = expander.definitions;
    const defs = await this.queryDefs(
      this.defsOf(runId)
        .andWhere('d.id > :known', { known })
        .andWhere('d.firstSeq <= :seq', { seq }),
    );
    for (const d of defs) {
      // one of an event not stored yet leaves a gap: those after it are taken once it is filled
      if (d.id !== expander.definitions + 1) break;
      expander.define(d);
    }
    return expander;
  }

  async queryViolations(query: ViolationQuery): Promise<Page<ViolationRow>> {
    const limit = positiveInt('limit', query.limit, MAX_PAGE_SIZE);
    const qb = this.violationsWhere(query);
    if (query.cursor) {
      const [recordedAt, runId, seq] = decodeCursor(query.cursor, ['string', 'string', 'number']);
      qb.andWhere('(v.recordedAt, v.runId, v.seq) < (:cursorAt, :cursorRun, :cursorSeq)', {
        cursorAt: recordedAt,
        cursorRun: runId,
        cursorSeq: seq,
      });
    }
    qb.orderBy('v.recordedAt', 'DESC')
      .addOrderBy('v.runId', 'DESC')
      .addOrderBy('v.seq', 'DESC')
      .limit(limit + 1);
    const records = await this.exclusive(() => qb.getMany());
    return page(records.map(violationRow), limit, (v) => [v.recordedAt, v.runId, v.seq]);
  }

  /**
   * The findings a filter selects, to aggregate: signature_rollup when the filter names labels
   * only (labelsOnly), the violations otherwise; with the alias and the expressions of a group's
   * count and distinct runs on either.
   */
  private findingsToAggregate(filter: ViolationFilter) {
    const fromRollup = labelsOnly(filter);
    return {
      fromRollup,
      a: fromRollup ? 'r' : 'v',
      qb: fromRollup ? this.rollupWhere(filter) : this.violationsWhere(filter),
      count: fromRollup ? 'SUM("r"."count")' : 'COUNT(*)',
      runs: fromRollup ? 'SUM("r"."runs")' : 'COUNT(DISTINCT "v"."run_id")',
    };
  }

  async groupBySignature(filter: ViolationFilter): Promise<SignatureGroup[]> {
    const { fromRollup, a, qb: source, count, runs } = this.findingsToAggregate(filter);
    // distinct sorted lists in SQL; "C" collation on Postgres so both dialects sort bytewise
    const distinctSorted = (column: string): string =>
      this.dialect === 'postgres'
        ? `array_agg(DISTINCT "${a}"."${column}" COLLATE "C" ORDER BY "${a}"."${column}" COLLATE "C")`
        : `json_group_array(DISTINCT "${a}"."${column}" ORDER BY "${a}"."${column}")`;
    const signatureOrder =
      this.dialect === 'postgres' ? `"${a}"."signature" COLLATE "C"` : `"${a}"."signature"`;
    const qb = source
      .select(`"${a}"."signature"`, 'signature')
      .addSelect(count, 'count')
      .addSelect(runs, 'runs')
      .addSelect(distinctSorted('kernel'), 'kernels')
      .addSelect(distinctSorted('arch'), 'arches')
      .addSelect(`MIN("${a}"."${fromRollup ? 'first_seen' : 'recorded_at'}")`, 'firstSeen')
      .addSelect(`MAX("${a}"."${fromRollup ? 'last_seen' : 'recorded_at'}")`, 'lastSeen')
      .groupBy(`"${a}"."signature"`)
      .orderBy(count, 'DESC')
      .addOrderBy(signatureOrder, 'ASC');
    // the observed share: from the few observed rows alone (a partial index holds them)
    const observedQb = this.violationsWhere({ ...filter, origin: 'observed' })
      .select('"v"."signature"', 'signature')
      .addSelect('COUNT(*)', 'count')
      .groupBy('"v"."signature"');
    const [rows, observedRows] = await this.exclusive(() =>
      Promise.all([
        qb.getRawMany<Record<string, unknown>>(),
        filter.origin === 'simulated'
          ? Promise.resolve([])
          : observedQb.getRawMany<{ signature: string; count: unknown }>(),
      ]),
    );
    const observed = new Map(observedRows.map((r) => [r.signature, intFromDb(r.count)]));
    return rows.map((r) => ({
      signature: r.signature as string,
      kind: signatureKind(r.signature as string),
      count: intFromDb(r.count),
      runs: intFromDb(r.runs),
      observed: observed.get(r.signature as string) ?? 0,
      kernels: stringArrayFromDb(r.kernels),
      arches: stringArrayFromDb(r.arches),
      firstSeen: isoFromDb(r.firstSeen),
      lastSeen: isoFromDb(r.lastSeen),
    }));
  }

  async listCampaigns(prefix: string): Promise<CampaignRow[]> {
    // the seed: what comes between the prefix and the next dash
    const rest = `substr("r"."scenario", ${prefix.length + 1})`;
    const seed =
      this.dialect === 'postgres'
        ? `split_part(${rest}, '-', 1)`
        : `substr(${rest}, 1, instr(${rest}, '-') - 1)`;
    const qb = this.dataSource
      .getRepository(this.entities.runs)
      .createQueryBuilder('r')
      .select(seed, 'seed')
      .addSelect('COUNT(*)', 'runs')
      .addSelect(`SUM(CASE WHEN "r"."status" = 'completed' THEN 1 ELSE 0 END)`, 'completed')
      .addSelect(`SUM(CASE WHEN "r"."status" = 'failed' THEN 1 ELSE 0 END)`, 'failed')
      .addSelect(`SUM(CASE WHEN "r"."status" = 'running' THEN 1 ELSE 0 END)`, 'running')
      .addSelect('SUM("r"."violations")', 'violations')
      .addSelect('MIN("r"."created_at")', 'firstRun')
      .addSelect('MAX("r"."created_at")', 'lastRun')
      .groupBy(seed)
      .orderBy('MAX("r"."created_at")', 'DESC');
    scenarioPrefixWhere(qb, 'r', prefix);
    const rows = await this.exclusive(() => qb.getRawMany<Record<string, unknown>>());
    return rows
      .filter((r) => /^\d+$/.test(String(r.seed)))
      .map((r) => ({
        seed: Number(r.seed),
        runs: intFromDb(r.runs),
        completed: intFromDb(r.completed),
        failed: intFromDb(r.failed),
        running: intFromDb(r.running),
        violations: intFromDb(r.violations),
        firstRun: isoFromDb(r.firstRun),
        lastRun: isoFromDb(r.lastRun),
      }));
  }

  async signatureMatrix(filter: ViolationFilter): Promise<SignatureCell[]> {
    const { a, qb: source, count, runs } = this.findingsToAggregate(filter);
    const collate = this.dialect === 'postgres' ? ' COLLATE "C"' : '';
    const qb = source
      .select(`"${a}"."signature"`, 'signature')
      .addSelect(`"${a}"."kernel"`, 'kernel')
      .addSelect(`"${a}"."arch"`, 'arch')
      .addSelect(count, 'count')
      .addSelect(runs, 'runs')
      .groupBy(`"${a}"."signature"`)
      .addGroupBy(`"${a}"."kernel"`)
      .addGroupBy(`"${a}"."arch"`)
      .orderBy(`"${a}"."signature"${collate}`, 'ASC')
      .addOrderBy(`"${a}"."kernel"${collate}`, 'ASC')
      .addOrderBy(`"${a}"."arch"${collate}`, 'ASC');
    const rows = await this.exclusive(() => qb.getRawMany<Record<string, unknown>>());
    return rows.map((r) => ({
      signature: r.signature as string,
      kernel: r.kernel as string,
      arch: r.arch as string,
      count: intFromDb(r.count),
      runs: intFromDb(r.runs),
    }));
  }

  async deleteViolations(runId?: string): Promise<void> {
    // The trigger only counts inserts: rebuild the rollup of what is deleted, in the same
    // transaction. Min/max cannot be decremented, so the affected signatures are recomputed.
    const t = qualifiedNames(this.schema);
    const param = (i: number): string => (this.dialect === 'postgres' ? `$${i}` : '?');
    await this.exclusive(() =>
      this.dataSource.transaction(async (manager) => {
        if (this.dialect === 'postgres') {
          // no insert may slip in between the rebuild's read and its commit (self-exclusive too)
          await manager.query(`LOCK TABLE ${t.violations} IN SHARE ROW EXCLUSIVE MODE`);
        }
        // observed findings are not a projection of a log: they stay, and so does their share
        const simulated = `"origin" = 'simulated'`;
        if (runId === undefined) {
          await manager.query(`DELETE FROM ${t.violations} WHERE ${simulated}`);
          for (const table of [t.rollup, t.runs]) await manager.query(`DELETE FROM ${table}`);
          await backfill(manager, t, null);
          return;
        }
        const rows: { signature: string }[] = await manager.query(
          `SELECT DISTINCT "signature" FROM ${t.violations} WHERE "run_id" = ${param(1)} AND ${simulated}`,
          [runId],
        );
        await manager.query(
          `DELETE FROM ${t.violations} WHERE "run_id" = ${param(1)} AND ${simulated}`,
          [runId],
        );
        for (let i = 0; i < rows.length; i += SIGNATURES_PER_REBUILD) {
          const params = rows.slice(i, i + SIGNATURES_PER_REBUILD).map((r) => r.signature);
          const placeholder = params.map((_, j) => param(j + 1)).join(', ');
          for (const table of [t.rollup, t.runs]) {
            await manager.query(
              `DELETE FROM ${table} WHERE "signature" IN (${placeholder})`,
              params,
            );
          }
          await backfill(manager, t, { placeholder, params });
        }
      }),
    );
  }

  createEventSink(runId: string, meta: EventSinkMeta, opts?: EventSinkOptions): EventSink {
    this.assertOpen();
    return new BufferedEventSink(this, nonEmpty('runId', runId), meta, opts);
  }

  close(): Promise<void> {
    this.closing ??= this.flushAndClose();
    return this.closing;
  }

  private async flushAndClose(): Promise<void> {
    const flushes = await Promise.allSettled([...this.busySinks].map((sink) => sink.flush()));
    // appends already accepted are committed (or fail on their own) before the store closes
    while (this.appendCommitter !== null) await this.appendCommitter;
    this.closed = true;
    if (this.queue !== null) await this.queue.run(() => undefined);
    await this.dataSource.destroy();
    const failed = flushes.find((f) => f.status === 'rejected');
    if (failed) throw failed.reason;
  }

  assertOpen(): void {
    if (this.closed) throw new StoreError('the store is closed', 'failed');
  }

  sinkBusy(sink: BufferedEventSink, busy: boolean): void {
    if (busy) this.busySinks.add(sink);
    else this.busySinks.delete(sink);
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    this.assertOpen();
    return this.queue === null ? task() : this.queue.run(task);
  }

  /** a table's name for raw SQL, in the store's schema on Postgres */
  private table(name: string): string {
    return this.schema === null ? `"${name}"` : `"${this.schema}"."${name}"`;
  }

  private async findRun(runId: string): Promise<RunRow | null> {
    const record = await this.dataSource.getRepository(this.entities.runs).findOneBy({ runId });
    return record === null ? null : runRow(record);
  }

  private rollupWhere(filter: ViolationFilter): SelectQueryBuilder<SignatureRollupRecord> {
    const qb = this.dataSource.getRepository(this.entities.signatureRollup).createQueryBuilder('r');
    for (const key of ['arch', 'kernel', 'scenario'] as const) {
      const value = filter[key];
      if (value !== undefined) qb.andWhere(`r.${key} = :${key}`, { [key]: value });
    }
    scenarioPrefixWhere(qb, 'r', filter.scenarioPrefix);
    return qb;
  }

  private violationsWhere(filter: ViolationFilter): SelectQueryBuilder<ViolationRecord> {
    const qb = this.dataSource.getRepository(this.entities.violations).createQueryBuilder('v');
    const equal: [keyof ViolationFilter, keyof ViolationRecord][] = [
      ['arch', 'arch'],
      ['kernel', 'kernel'],
      ['scenario', 'scenario'],
      ['run', 'runId'],
      ['comm', 'comm'],
      ['kind', 'kind'],
      ['origin', 'origin'],
      ['signature', 'signature'],
    ];
    for (const [key, column] of equal) {
      const value = filter[key];
      if (value !== undefined) qb.andWhere(`v.${column} = :${key}`, { [key]: value });
    }
    if (filter.since !== undefined) {
      qb.andWhere('v.recordedAt >= :since', { since: wallClock(filter.since) });
    }
    scenarioPrefixWhere(qb, 'v', filter.scenarioPrefix);
    return qb;
  }
}

/**
 * Whether a filter names labels only: then signature_rollup (kept by a trigger on violations, see
 * the SignatureRollup migration) answers, from one row per (signature, labels) instead of one per
 * violation. Filters by run, comm, time, kind, origin or signature need the violations themselves.
 */
function labelsOnly(filter: ViolationFilter): boolean {
  return (
    filter.run === undefined &&
    filter.comm === undefined &&
    filter.since === undefined &&
    filter.kind === undefined &&
    filter.origin === undefined &&
    filter.signature === undefined
  );
}

/** `alias.scenario LIKE '<prefix>%'`, the prefix's own % and _ escaped (both dialects: ESCAPE). */
function scenarioPrefixWhere(
  qb: SelectQueryBuilder<ObjectLiteral>,
  alias: string,
  prefix: string | undefined,
): void {
  if (prefix === undefined) return;
  const pattern = prefix.replace(/[\\%_]/g, (c) => `\\${c}`) + '%';
  qb.andWhere(`${alias}.scenario LIKE :scenarioPrefix ESCAPE '\\'`, { scenarioPrefix: pattern });
}

function page<T>(rows: T[], limit: number, key: (row: T) => (string | number)[]): Page<T> {
  if (rows.length <= limit) return { rows, nextCursor: null };
  const kept = rows.slice(0, limit);
  return { rows: kept, nextCursor: encodeCursor(key(kept[kept.length - 1])) };
}

function nonEmpty(name: string, value: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new InvalidStoreInputError(`${name} must be a non-empty string`);
  }
  return value;
}
