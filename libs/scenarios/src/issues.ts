/**
 * From zod issues to one-line reasons a kernel engineer can act on, each at a field path.
 */
import { type z } from 'zod';
import { MISSING_KEY, type PathSegment, describeValue } from './errors.js';

export interface Problem {
  path: PathSegment[];
  reason: string;
}

type RawIssue = z.core.$ZodRawIssue;

const TYPE_NAMES: Readonly<Record<string, string>> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
};

function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/** z.int() reports a non-number as `expected: "number"`; its definition knows better. */
function isIntegerSchema(iss: RawIssue): boolean {
  const inst = iss.inst as { _zod?: { def?: { format?: unknown } } } | undefined;
  return inst?._zod?.def?.format === 'safeint';
}

function bound(
  op: '>=' | '>' | '<=' | '<',
  limit: number | bigint,
  input: unknown,
  origin: string,
): string {
  if (origin === 'string') {
    return op.startsWith('>')
      ? Number(limit) <= 1
        ? 'must not be empty'
        : `must be at least ${limit} characters long`
      : `must be at most ${limit} characters long, got ${typeof input === 'string' ? input.length : '?'}`;
  }
  if (origin === 'array') {
    return op.startsWith('>')
      ? `must have at least ${limit} items`
      : `must have at most ${limit} items`;
  }
  return `must be ${op} ${limit}, got ${show(input)}`;
}

/** The per-parse zod error map: the reason for each issue zod raises itself. */
export function reasonFor(iss: RawIssue): string {
  const input = iss.input;
  switch (iss.code) {
    case 'invalid_type':
      if (input === undefined) {
        return (iss.path?.length ?? 0) === 0 ? 'expected a mapping, got nothing' : MISSING_KEY;
      }
      if (isIntegerSchema(iss)) return `expected an integer, got ${describeValue(input)}`;
      return `expected ${TYPE_NAMES[iss.expected] ?? iss.expected}, got ${describeValue(input)}`;
    case 'invalid_value':
      return `must be one of: ${iss.values.map((v) => String(v)).join(', ')}; got ${describeValue(input)}`;
    case 'invalid_union': {
      const disc = 'discriminator' in iss ? iss.discriminator : undefined;
      const options = 'options' in iss ? (iss.options as unknown[] | undefined) : undefined;
      if (
        disc !== undefined &&
        typeof input === 'object' &&
        input !== null &&
        !Array.isArray(input)
      ) {
        const value = (input as Record<string, unknown>)[disc];
        const known = (options ?? []).map(String).join(', ');
        if (value === undefined) return `${MISSING_KEY} (one of: ${known})`;
        const what = disc === 'do' ? 'step kind' : `subscriber ${disc}`;
        return `unknown ${what} ${show(value)} (known: ${known})`;
      }
      if (disc !== undefined) return `expected a mapping, got ${describeValue(input)}`;
      return 'does not match any allowed form';
    }
    case 'too_small':
      return bound(iss.inclusive === false ? '>' : '>=', iss.minimum, input, iss.origin);
    case 'too_big':
      if (
        iss.origin === 'int' &&
        typeof iss.maximum === 'number' &&
        iss.maximum >= Number.MAX_SAFE_INTEGER
      ) {
        return `must be a safe integer (below 2^53), got ${show(input)}`;
      }
      return bound(iss.inclusive === false ? '<' : '<=', iss.maximum, input, iss.origin);
    case 'unrecognized_keys':
      return `unknown key "${String(iss.keys[0])}"`;
    case 'invalid_format':
      return `has the wrong format, got ${describeValue(input)}`;
    default:
      return iss.message ?? 'is invalid';
  }
}

/** The problem an issue of the final error describes, at the path of the offending key. */
export function problemOf(issue: z.core.$ZodIssue): Problem {
  const path = issue.path.map((seg) => (typeof seg === 'number' ? seg : String(seg)));
  if (issue.code === 'unrecognized_keys') {
    // the issue sits on the mapping; point at the first unknown key (document order)
    return { path: [...path, String(issue.keys[0])], reason: issue.message };
  }
  return { path, reason: issue.message };
}
