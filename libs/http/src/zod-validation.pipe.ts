import {
  type ArgumentMetadata,
  BadRequestException,
  Injectable,
  type PipeTransform,
} from '@nestjs/common';
import { z } from 'zod';

/**
 * Validation at the edge: checks a parameter against the zod schema its decorator carries
 * (`@Query({ schema })`, `@Param('id', { schema })`, `@Body({ schema })`) and hands the controller
 * the parsed value. A failure is a 400 whose message names the parameter and says why, for
 * example `query parameter limit: must be an integer from 1 to 1000 (got "abc")`.
 */
@Injectable()
export class ZodValidationPipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    const schema = metadata.schema;
    if (!(schema instanceof z.ZodType)) return value;
    if (metadata.type === 'body') {
      const at = prototypeKeyPath(value);
      if (at !== null) {
        const key = at[at.length - 1];
        const where = at.length > 1 ? locate(at.slice(0, -1), metadata) : '';
        const owner =
          where === '' ? '' : ` in ${where.length > 120 ? `${where.slice(0, 117)}...` : where}`;
        throw new BadRequestException(`unknown field ${JSON.stringify(key)}${owner}`);
      }
    }
    const result = schema.safeParse(value, { reportInput: true });
    if (result.success) return result.data;
    throw new BadRequestException(describeIssues(result.error.issues, metadata));
  }
}

/**
 * Keys that zod's records and objects drop silently where they copy a value (assigning
 * `__proto__` sets a prototype, not a key), or that name an object's own machinery: a body
 * holding one anywhere is refused like any unknown field, before it is parsed.
 */
const PROTOTYPE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

interface Visit {
  value: unknown;
  key: string | number | null;
  parent: Visit | null;
}

/**
 * The path of the first such key in a parsed JSON body, or null. Iterative, and each node keeps
 * only a link to its parent, so a deeply nested body costs time and memory in its size.
 */
function prototypeKeyPath(body: unknown): (string | number)[] | null {
  const pathOf = (v: Visit | null, last: string): (string | number)[] => {
    const path: (string | number)[] = [last];
    for (let n = v; n !== null && n.key !== null; n = n.parent) path.push(n.key);
    return path.reverse();
  };
  const stack: Visit[] = [{ value: body, key: null, parent: null }];
  while (stack.length > 0) {
    const visit = stack.pop()!;
    const value = visit.value;
    if (typeof value !== 'object' || value === null) continue;
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) {
        stack.push({ value: value[i], key: i, parent: visit });
      }
      continue;
    }
    const keys = Object.keys(value);
    const bad = keys.find((k) => PROTOTYPE_KEYS.has(k));
    if (bad !== undefined) return pathOf(visit, bad);
    for (let i = keys.length - 1; i >= 0; i--) {
      stack.push({
        value: (value as Record<string, unknown>)[keys[i]],
        key: keys[i],
        parent: visit,
      });
    }
  }
  return null;
}

function describeIssues(issues: z.core.$ZodIssue[], metadata: ArgumentMetadata): string {
  return issues
    .map((issue) => describeIssue(issue, metadata))
    .filter((line, i, all) => all.indexOf(line) === i)
    .join('; ');
}

function describeIssue(issue: z.core.$ZodIssue, metadata: ArgumentMetadata): string {
  const where = locate(issue.path, metadata);
  if (issue.code === 'unrecognized_keys') {
    const what = metadata.type === 'query' ? 'query parameter' : 'field';
    const owner = metadata.type === 'body' && issue.path.length > 0 ? ` in ${where}` : '';
    return issue.keys.map((k) => `unknown ${what} ${JSON.stringify(k)}${owner}`).join('; ');
  }
  if (metadata.type === 'query' && Array.isArray(issue.input)) {
    return `${where}: must be given at most once`;
  }
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return `${where}: is required`;
  }
  return `${where}: ${issue.message}${got(issue.input)}`;
}

function locate(path: PropertyKey[], metadata: ArgumentMetadata): string {
  const segments = path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`));
  switch (metadata.type) {
    case 'query':
      return path.length > 0 ? `query parameter ${String(path[0])}` : 'query string';
    case 'param':
      return `path parameter ${metadata.data ?? ''}`.trim();
    case 'body':
      return `body${segments.join('')}`;
    default:
      return segments.join('').replace(/^\./, '') || 'value';
  }
}

/** the offending value, quoted and shortened: a reason a user can act on without echoing a body */
function got(input: unknown): string {
  if (typeof input === 'string') {
    return ` (got ${JSON.stringify(input.length > 40 ? `${input.slice(0, 37)}...` : input)})`;
  }
  if (typeof input === 'number' || typeof input === 'boolean' || input === null) {
    return ` (got ${String(input)})`;
  }
  return '';
}
