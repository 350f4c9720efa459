import { printable } from '@mnsim/events';

/**
 * Exit statuses of the `mnsim` contract and the mapping of errors to them: 2 for bad input
 * (usage, invalid scenario or log, unknown run), 3 when the run or the infrastructure failed.
 * A user never sees a stack trace for bad input; MNSIM_DEBUG=1 shows it for the rest.
 */
export const EXIT_OK = 0;
export const EXIT_FINDINGS = 1;
export const EXIT_BAD_INPUT = 2;
export const EXIT_FAILED = 3;

export class UsageError extends Error {
  readonly exitCode = EXIT_BAD_INPUT;
}

export class InfrastructureError extends Error {
  readonly exitCode = EXIT_FAILED;
}

/** The exit status an error asks for: ScenarioError has exitCode, StoreError has exitStatus. */
export function exitCodeOf(err: unknown): number {
  if (err && typeof err === 'object') {
    const e = err as { exitCode?: unknown; exitStatus?: unknown };
    if (typeof e.exitCode === 'number') return e.exitCode;
    if (typeof e.exitStatus === 'number') return e.exitStatus;
  }
  return EXIT_FAILED;
}

export function reportError(err: unknown): number {
  const code = exitCodeOf(err);
  const message = err instanceof Error ? err.message : String(err);
  // messages quote input (file names, run ids, a log's fields): shown escaped, on one line
  process.stderr.write(`mnsim: ${printable(message)}\n`);
  if (code === EXIT_FAILED && process.env.MNSIM_DEBUG && err instanceof Error && err.stack) {
    process.stderr.write(`${err.stack}\n`);
  }
  return code;
}
