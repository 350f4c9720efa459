import { MnsimError } from '@mnsim/errors';
/**
 * Errors the store raises. Each carries the user-facing message and its kind (bad input, not
 * found, a failure), so no stack trace needs to reach a user.
 */
export class StoreError extends MnsimError {}

export class RunNotFoundError extends StoreError {
  constructor(readonly runIdOrPrefix: string) {
    super(`no run matches '${runIdOrPrefix}'`, 'not-found');
  }
}

export class AmbiguousRunIdError extends StoreError {
  constructor(
    readonly prefix: string,
    readonly candidates: string[],
    more: boolean,
  ) {
    super(
      `run id prefix '${prefix}' is ambiguous: it matches ${candidates.join(', ')}` +
        (more ? ', …' : '') +
        '; give more characters',
      'bad-input',
    );
  }
}

/** how many candidates an ambiguous prefix lists */
export const AMBIGUOUS_LISTED = 5;

export class RunConflictError extends StoreError {
  constructor(runId: string, detail: string) {
    super(`run '${runId}' already exists with a different ${detail}`, 'failed');
  }
}

export class InvalidStoreInputError extends StoreError {
  constructor(message: string) {
    super(message, 'bad-input');
  }
}

export class StoreConfigError extends StoreError {
  constructor(message: string) {
    super(message, 'failed');
  }
}

/**
 * The SQLite database file the store opened is no longer at its path: deleted or moved
 * (`replaced`: false), or another file is there now (`replaced`: true). The connection still
 * writes to the file it opened, which no other process will ever read.
 */
export class StoreGoneError extends StoreError {
  constructor(
    readonly path: string,
    readonly replaced: boolean,
  ) {
    super(
      replaced
        ? `the SQLite database ${path} was replaced by another file since the store opened it`
        : `the SQLite database ${path} is gone: deleted or moved since the store opened it`,
      'unavailable',
    );
  }
}
