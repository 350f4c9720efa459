/**
 * @mnsim/errors: the one base of mnsim's errors. Every error a user can meet says what kind of
 * failure it is; the kind is mapped once to the CLI's exit status (design.md: 2 bad input, 3 the
 * run or the infrastructure failed) and once to the HTTP status the API answers with. Anything
 * that is not an MnsimError is internal: exit 3, HTTP 500 with no detail.
 */

export const ERROR_KINDS = {
  /** the input is wrong: a scenario, a log, an argument, a run id */
  'bad-input': { exit: 2, http: 400 },
  /** what the input names does not exist */
  'not-found': { exit: 2, http: 404 },
  /** the input is well formed but clashes with what is there (a run that cannot be replayed) */
  conflict: { exit: 2, http: 409 },
  /** a configuration the process cannot start with */
  config: { exit: 2, http: 500 },
  /** the run was stopped by one of its limits */
  limit: { exit: 3, http: 422 },
  /** a service it needs is not there: Redis, the cluster's workers, the store's file */
  unavailable: { exit: 3, http: 503 },
  /** the run or the infrastructure failed */
  failed: { exit: 3, http: 500 },
} as const satisfies Record<string, { exit: number; http: number }>;

export type ErrorKind = keyof typeof ERROR_KINDS;

export class MnsimError extends Error {
  constructor(
    message: string,
    readonly kind: ErrorKind,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }

  /** the CLI's exit status for it */
  get exitCode(): number {
    return ERROR_KINDS[this.kind].exit;
  }

  /** the API's HTTP status for it */
  get httpStatus(): number {
    return ERROR_KINDS[this.kind].http;
  }
}

/** The exit status of any error: its kind's, 3 for anything else. */
export function exitStatusOf(err: unknown): number {
  return err instanceof MnsimError ? err.exitCode : ERROR_KINDS.failed.exit;
}
