/**
 * Errors the store raises for a caller's input. Each carries the user-facing message and the exit
 * status the CLI uses (2: bad input, 3: the run/infrastructure failed), so no stack trace needs to
 * reach a user.
 */
export class StoreError extends Error {
  constructor(
    message: string,
    readonly exitStatus: 2 | 3,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class RunNotFoundError extends StoreError {
  constructor(readonly runIdOrPrefix: string) {
    super(`no run matches '${runIdOrPrefix}'`, 2);
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
      2,
    );
  }
}

/** how many candidates an ambiguous prefix lists */
export const AMBIGUOUS_LISTED = 5;

export class RunConflictError extends StoreError {
  constructor(runId: string, detail: string) {
    super(`run '${runId}' already exists with a different ${detail}`, 3);
  }
}

export class InvalidStoreInputError extends StoreError {
  constructor(message: string) {
    super(message, 2);
  }
}

export class StoreConfigError extends StoreError {
  constructor(message: string) {
    super(message, 3);
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
      3,
    );
  }
}
