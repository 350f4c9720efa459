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
    const result = schema.safeParse(value, { reportInput: true });
    if (result.success) return result.data;
    throw new BadRequestException(describeIssues(result.error.issues, metadata));
  }
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
