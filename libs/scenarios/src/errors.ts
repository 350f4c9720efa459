import { MnsimError } from '@mnsim/errors';
/** Exit status of `mnsim` for bad input (usage, invalid scenario or log). */
export const EXIT_BAD_INPUT = 2;

/** The reason for an absent required key (the path names the key). */
export const MISSING_KEY = 'required key is missing';

/** One segment of a field path: a mapping key or a list index. */
export type PathSegment = string | number;

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** `processes[0].vms[0].memslots[1].gpa`; `` for the root. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (PLAIN_KEY.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** A value as a reason quotes it: `string "abc"`, `number 1.5`, `a list`, `null (an empty value)`. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null (an empty value)';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Uint8Array) return 'binary data';
  switch (typeof v) {
    case 'string':
      return `string ${JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v)}`;
    case 'number':
      return Number.isFinite(v) ? `number ${v}` : String(v);
    case 'boolean':
    case 'bigint':
      return `${typeof v} ${v}`;
    case 'object':
      return 'a mapping';
    default:
      return typeof v;
  }
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * An invalid scenario: the file, the field path and the reason, printed as one line
 * `<file>: <path>: <reason>` (no `<path>: ` for a problem with the document as a whole).
 */
export class ScenarioError extends MnsimError {
  readonly reason: string;

  constructor(
    readonly file: string,
    readonly path: string,
    reason: string,
    /** 1-based line of the offending node in the file, when known (not part of `message`) */
    readonly line?: number,
  ) {
    const r = oneLine(reason);
    super(path === '' ? `${file}: ${r}` : `${file}: ${path}: ${r}`, 'bad-input');
    this.reason = r;
  }
}

/** A scenario argument that is neither a readable file nor the name of a built-in scenario. */
export class UnknownScenarioError extends MnsimError {
  constructor(
    readonly nameOrPath: string,
    readonly builtins: readonly string[],
  ) {
    super(
      `unknown scenario ${JSON.stringify(nameOrPath)}: no such file and no such built-in scenario` +
        ` (built-ins: ${builtins.length > 0 ? builtins.join(', ') : 'none'})`,
      'bad-input',
    );
  }
}
