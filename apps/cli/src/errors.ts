import { MnsimError, exitStatusOf } from '@mnsim/errors';
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

/** A command line the program cannot act on: exit 2. */
export class UsageError extends MnsimError {
  constructor(message: string) {
    super(message, 'bad-input');
  }
}

/** The run or the infrastructure failed: exit 3. */
export class InfrastructureError extends MnsimError {
  constructor(message: string) {
    super(message, 'failed');
  }
}

/** The exit status an error asks for: its kind's (@mnsim/errors), 3 for anything else. */
export const exitCodeOf = exitStatusOf;

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
