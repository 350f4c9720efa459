import type { FindingKind } from '@mnsim/kernel';
import type {
  LogDef,
  Origin,
  RunEvent,
  RunEventEnvelope,
  RunStatus,
  Violation,
} from '@mnsim/events';

export type Dialect = 'sqlite' | 'postgres';

/** Why a run of origin `observed` cannot be replayed or exported: it has no event log. */
export function observedRunHasNoLog(runId: string): string {
  return `run ${runId} holds splats observed in a kernel log (mnsim triage --record): it has no event log`;
}

export interface StoreOptions {
  /** `postgres://…`; absent → SQLite */
  url?: string;
  /** default `.mnsim/mnsim.sqlite` relative to cwd (directory created); `:memory:` allowed */
  sqlitePath?: string;
  /** Postgres schema, created if missing (tests use their own) */
  schema?: string;
  /**
   * Postgres: who the store's connections are in `pg_stat_activity` (`application_name`), e.g.
   * `mnsim-auditor`; `/<schema>` is added when a schema is given. Default `mnsim`.
   */
  applicationName?: string;
}

export interface NewRun {
  runId: string;
  scenario: string;
  kernel: string;
  arch: string;
  seed: number;
  /** the scenario YAML or JSON the run came from */
  source?: string | null;
}

/**
 * The row of a new run of `scenario`: its kernel and seed the scenario's own unless `opts`
 * overrides them (the CLI's --kernel and --seed), as the engine and the cluster will run it.
 */
export function newRunOf<K extends string>(
  runId: string,
  scenario: { name: string; kernel: K; seed: number; host: { arch: string } },
  source: string | null,
  opts: { kernel?: K; seed?: number } = {},
): NewRun & { kernel: K } {
  return {
    runId,
    scenario: scenario.name,
    kernel: opts.kernel ?? scenario.kernel,
    arch: scenario.host.arch,
    seed: opts.seed ?? scenario.seed,
    source,
  };
}

export interface RunRow {
  runId: string;
  scenario: string;
  kernel: string;
  arch: string;
  seed: number;
  status: RunStatus;
  events: number;
  logHash: string | null;
  violations: number;
  failureReason: string | null;
  /** ISO 8601 UTC */
  createdAt: string;
  /** ISO 8601 UTC; null while running */
  finishedAt: string | null;
  source: string | null;
  origin: Origin;
}

/** A run as listings carry it: without its scenario source (up to the API's body limit each). */
export type RunSummaryRow = Omit<RunRow, 'source'>;

/** Runs in the store by status: every one counted. */
export type RunCounts = Record<RunStatus, number>;

export interface RunResult {
  status: 'completed' | 'failed';
  events: number;
  logHash: string | null;
  violations: number;
  failureReason?: string | null;
}

/**
 * Splats read from a real kernel log (`mnsim triage --record`), kept as a completed run of origin
 * `observed`: labelled like a run (the log's name as its scenario, the release and arch its
 * splats name), its findings numbered in the order of the log.
 */
export interface ObservedRun {
  runId: string;
  scenario: string;
  kernel: string;
  arch: string;
  /** each finding with the id it goes by (where it is in the log) in place of an event's */
  findings: { eventId: string; v: Violation }[];
}

/** Which runs `failStaleRuns` fails, and how. */
export interface StaleRunsOptions {
  /** no sign of life (start, latest event) for more than this long, in ms */
  olderThanMs: number;
  /** the failure reason the failed runs get */
  reason: string;
  /** the sweep's clock; default the wall clock now */
  now?: Date;
}

export interface RunFilter {
  origin?: Origin;
  /** only the runs whose scenario's name starts with this (a fuzz campaign's `fuzz-<seed>-`) */
  scenarioPrefix?: string;
  /** only the runs with at least one finding of this exact signature */
  signature?: string;
  scenario?: string;
  kernel?: string;
  arch?: string;
  status?: RunStatus;
  /** capped at {@link MAX_PAGE_SIZE} */
  limit: number;
  cursor?: string | null;
}

/**
 * One event of a run's log, expanded: its envelope and its payload as format 1 has it. The store
 * keeps the log in format 2 (see libs/events' stored-log.ts); readers of events never see its ids.
 */
export type StoredEvent = RunEvent;

/** An event's envelope and when it was recorded: a stored event but its payload. */
export type LoggedEvent = RunEventEnvelope;

/** One event of a run's format 2 log as stored: its envelope and its lines. */
export interface StoredLogEvent extends LoggedEvent {
  /** the definitions this event is the first to use, then its own line */
  lines: string[];
}

export interface EventToAppend {
  event: LoggedEvent;
  /**
   * The event's format 2 lines, as the interner of its run wrote them: the definitions it is the
   * first to use, then its own line. The writer interns the run's events in seq order; the store
   * takes them in any order.
   */
  lines: readonly string[];
}

export interface ViolationToAppend {
  /** id of the `violation` event that carries it */
  eventId: string;
  v: Violation;
  scenario: string;
  kernel: string;
  arch: string;
  /** wall clock of the violation; defaults to the `recordedAt` of event `eventId` in the same batch */
  recordedAt?: string;
}

/** A violation as the design's JSON contract prints it, plus where it came from. */
export interface ViolationRow extends Violation {
  runId: string;
  origin: Origin;
  eventId: string;
  scenario: string;
  kernel: string;
  arch: string;
  /** ISO 8601 UTC */
  recordedAt: string;
}

export interface ViolationFilter {
  kind?: FindingKind;
  /** only the findings of runs whose scenario's name starts with this */
  scenarioPrefix?: string;
  origin?: Origin;
  arch?: string;
  kernel?: string;
  scenario?: string;
  /** exact run id (resolve a prefix with `resolveRunId` first) */
  run?: string;
  comm?: string;
  /** exact signature */
  signature?: string;
  /** only violations recorded at or after this instant */
  since?: Date;
}

export interface ViolationQuery extends ViolationFilter {
  /** capped at {@link MAX_PAGE_SIZE} */
  limit: number;
  cursor?: string | null;
}

export interface SignatureGroup {
  signature: string;
  /** the kind of its findings (a signature tells it) */
  kind: FindingKind;
  count: number;
  /** distinct runs */
  runs: number;
  /** of `count`, the findings observed in real kernel logs (the rest were simulated) */
  observed: number;
  /** distinct, sorted */
  kernels: string[];
  /** distinct, sorted */
  arches: string[];
  /** ISO 8601 UTC */
  firstSeen: string;
  /** ISO 8601 UTC */
  lastSeen: string;
}

/** A fuzz campaign of the history: the runs of one seed, by their scenarios' names. */
export interface CampaignRow {
  seed: number;
  runs: number;
  completed: number;
  failed: number;
  running: number;
  /** findings recorded by its runs */
  violations: number;
  /** ISO 8601 UTC: when its first and last runs started */
  firstRun: string;
  lastRun: string;
}

/** One cell of the kernel × arch matrix of a signature: where it occurs, and how often. */
export interface SignatureCell {
  signature: string;
  kernel: string;
  arch: string;
  count: number;
  /** distinct runs */
  runs: number;
}

export interface Page<T> {
  rows: T[];
  /** pass back as `cursor` for the next page; null on the last page */
  nextCursor: string | null;
}

export interface EventSinkMeta {
  scenario: string;
  kernel: string;
  arch: string;
}

export interface EventSinkOptions {
  /** rows per write transaction; default 5,000 */
  batchSize?: number;
}

/**
 * The embedded engine's hot path: buffers events and violations and writes them in large
 * transactions. Writes are idempotent like `appendEvents`. Call `flush()` before reading the run
 * back or finishing it; an error of a background batch is thrown by the next `append` or `flush`,
 * after which the sink stays failed.
 *
 * On SQLite a full batch is normally written inside `append` itself, so memory stays at one batch.
 * On Postgres (and on SQLite while another store operation is in flight) full batches are written
 * in the background, one at a time: a producer that never yields should `await flush()` every few
 * batches to bound memory.
 */
export interface EventSink {
  append(event: LoggedEvent, lines: readonly string[]): void;
  /** `recordedAt` defaults to that of the buffered event `eventId`, else now */
  appendViolation(eventId: string, v: Violation, recordedAt?: string): void;
  flush(): Promise<void>;
  /** batches handed to the writer and not yet written: a producer waits when it grows */
  readonly backlog: number;
  /** settles when every batch handed to the writer is written (a failure: the next call throws) */
  drained(): Promise<void>;
}

export interface Store {
  readonly dialect: Dialect;
  /** idempotent: creating the same run again changes nothing; a different run under the id throws */
  createRun(run: NewRun): Promise<void>;
  /**
   * Appends a batch of events and the violations among them in ONE transaction, idempotent by
   * (run_id, seq): re-appending the same events changes nothing. Ids are not checked unique here:
   * they derive from causation, and whoever vouches for a log (the engine, import, the auditor's
   * close) checks them.
   */
  appendEvents(
    runId: string,
    events: EventToAppend[],
    violations: ViolationToAppend[],
  ): Promise<void>;
  finishRun(runId: string, result: RunResult): Promise<void>;
  /**
   * Stores observed findings as a completed run of origin `observed`, run and violations in one
   * transaction. Idempotent: when the run id is already stored nothing is written (false).
   */
  recordObservedRun(run: ObservedRun): Promise<boolean>;
  getRun(runId: string): Promise<RunRow | null>;
  /** newest first */
  listRuns(filter: RunFilter): Promise<Page<RunSummaryRow>>;
  countRuns(): Promise<RunCounts>;
  /**
   * Ends `failed`, with `reason`, every run still `running` whose last sign of life (its start,
   * and the `recordedAt` of its latest event by seq) is more than `olderThanMs` old: its client or
   * orchestrator is gone. One UPDATE, conditional on the status, so concurrent sweeps fail a run
   * once and a run finished meanwhile is left as it is. Returns the runs it failed, oldest first.
   */
  failStaleRuns(opts: StaleRunsOptions): Promise<RunRow[]>;
  /** a unique prefix of a run id (like git) → the full id; throws RunNotFoundError/AmbiguousRunIdError */
  resolveRunId(prefix: string): Promise<string>;
  /** ordered by seq, expanded */
  readEvents(runId: string, opts: { afterSeq?: number; limit: number }): Promise<StoredEvent[]>;
  /** every event of the run in seq order, expanded, read in pages of `pageSize` (default 1,000) */
  iterateEvents(runId: string, pageSize?: number): AsyncIterable<StoredEvent>;
  /**
   * The run's format 2 log as stored, event by event in seq order with the definitions each is the
   * first to use: the lines its logHash covers, read in pages of `pageSize` (default 1,000).
   */
  iterateLog(runId: string, pageSize?: number): AsyncIterable<StoredLogEvent>;
  /**
   * Every definition of the run's log that the events up to `seq` use, in id order: what an
   * interner needs to go on with the events after `seq` (LogInterner.resume).
   */
  readLogDefs(runId: string, upToSeq: number): Promise<LogDef[]>;
  /**
   * The seq after the last event stored of the run (0 for none). Its writers store a run's events
   * in seq order, so that the definitions of the events up to it are all stored.
   */
  nextSeq(runId: string): Promise<number>;
  /** newest first, keyset paging */
  queryViolations(query: ViolationQuery): Promise<Page<ViolationRow>>;
  /** most frequent first */
  groupBySignature(filter: ViolationFilter): Promise<SignatureGroup[]>;
  /**
   * The fuzz campaigns, newest first: runs whose scenario is named `<prefix><seed>-<index>`,
   * grouped by seed.
   */
  listCampaigns(prefix: string): Promise<CampaignRow[]>;
  /** per signature, kernel and arch: the matrix of where each signature occurs */
  signatureMatrix(filter: ViolationFilter): Promise<SignatureCell[]>;
  /**
   * The simulated violations, all or those of one run (projection rebuild): observed ones are not
   * a projection of a log, and stay.
   */
  deleteViolations(runId?: string): Promise<void>;
  createEventSink(runId: string, meta: EventSinkMeta, opts?: EventSinkOptions): EventSink;
  /**
   * Throws StoreGoneError if the database file of a file-backed SQLite store is no longer the one
   * the store opened (deleted, moved, or replaced by another file): writes would go to a file no
   * one else can open. Nothing to check on Postgres or in memory.
   */
  checkPresent(): Promise<void>;
  /** waits for pending sink batches, then closes the connection(s) */
  close(): Promise<void>;
}

/** Largest page `listRuns` and `queryViolations` return. */
export const MAX_PAGE_SIZE = 1000;
