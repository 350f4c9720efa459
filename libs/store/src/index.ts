/**
 * @mnsim/store: runs, their event logs and violations, on SQLite (embedded default) or Postgres,
 * through TypeORM with one set of migrations for both.
 */
export { openStore } from './store.js';
export type {
  Dialect,
  EventSink,
  EventSinkMeta,
  EventSinkOptions,
  EventToAppend,
  NewRun,
  ObservedRun,
  Page,
  RunFilter,
  RunResult,
  RunRow,
  RunSummaryRow,
  RunCounts,
  CampaignRow,
  SignatureCell,
  SignatureGroup,
  StaleRunsOptions,
  Store,
  StoredEvent,
  StoredLogEvent,
  LoggedEvent,
  StoreOptions,
  ViolationFilter,
  ViolationQuery,
  ViolationRow,
  ViolationToAppend,
} from './types.js';
export { MAX_PAGE_SIZE, newRunOf, observedRunHasNoLog } from './types.js';
export { DEFAULT_SQLITE_PATH } from './data-source.js';
export {
  AmbiguousRunIdError,
  InvalidStoreInputError,
  RunConflictError,
  RunNotFoundError,
  StoreConfigError,
  StoreError,
  StoreGoneError,
} from './errors.js';
export {
  measureRawSqliteInsertRate,
  type RawEventRow,
  type RawInsertRate,
} from './raw-sqlite-rate.js';
