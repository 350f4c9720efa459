/** @mnsim/engine: the embedded engine (orchestrator loop over the in-process transport). */
export * from './simulate.js';
export * from './kernel-log.js';
export * from './record.js';
export {
  LOG_FORMAT,
  LOG_FORMAT_VERSION,
  EXPANDED_LOG_FORMAT_VERSION,
  LogFile,
  LogFileError,
  LogHashMismatchError,
  recordLogFile,
  type CheckedEvent,
  type LogHeader,
  type RecordedLogFile,
} from './log-file.js';
export type { RecordedLog, RunStart } from './recorded-log.js';
export { RecordedRun, RecordedRunError } from './recorded-run.js';
export {
  CHUNK_LINES,
  diffViolations,
  replayLog,
  scenarioOnArch,
  type Divergence,
  type ReplayOptions,
  type ReplayOutcome,
  type ReplayReport,
  type ViolationsDiff,
} from './replay.js';
export { ImportConflictError, importLogFile, type ImportResult } from './log-import.js';
export { rebuildViolations, type RebuildReport } from './rebuild.js';
export {
  PERFETTO_CLOCK,
  PerfettoConverter,
  perfettoTraceLines,
  type PerfettoInputEvent,
  type PerfettoRunInfo,
  type TraceEvent,
} from './perfetto.js';
