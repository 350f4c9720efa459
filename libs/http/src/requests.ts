/**
 * What a request may carry: query strings, path parameters and bodies, as zod schemas. The
 * controllers attach them to their parameters (`@Query({ schema })`), the ZodValidationPipe checks
 * them, and @nestjs/swagger documents them from the same objects. Every message here is the reason
 * part of a 400; the pipe prefixes the parameter's name.
 */
import { ORIGINS, RUN_ID_PATTERN, RUN_ID_RULE } from '@mnsim/events';
import { SINCE_RULE, parseSince } from '@mnsim/runs';
import { ARCHES, FINDING_KINDS, KERNEL_VARIANTS } from '@mnsim/kernel';
import { MAX_PAGE_SIZE } from '@mnsim/store';
import { z } from 'zod';

export const DEFAULT_PAGE_SIZE = 100;
const RUN_STATUSES = ['running', 'completed', 'failed'] as const;

/** An integer query parameter in [min, max]; query strings are text, so this parses it. */
function intParam(min: number, max: number) {
  const reason = `must be an integer from ${min} to ${max}`;
  return (
    z
      .string()
      .transform((text, ctx) => {
        const n = /^-?\d{1,16}$/.test(text) ? Number(text) : NaN;
        if (!Number.isSafeInteger(n) || n < min || n > max) {
          ctx.issues.push({ code: 'custom', message: reason, input: text });
          return z.NEVER;
        }
        return n;
      })
      // what the text must hold, for the OpenAPI document (a query parameter is text on the wire)
      .meta({ type: 'integer', minimum: min, maximum: max })
  );
}

const since = z
  .string()
  .transform((text, ctx) => {
    const date = parseSince(text);
    if (date === null) {
      ctx.issues.push({
        code: 'custom',
        message: `must be ${SINCE_RULE}`,
        input: text,
      });
      return z.NEVER;
    }
    return date;
  })
  .describe('ISO 8601 date/instant, or a duration back from now: 30m, 12h, 7d, 2w');

const arch = z
  .enum(ARCHES, { error: `must be one of ${ARCHES.join(', ')}` })
  .describe('host architecture');
const kernel = z
  .enum(KERNEL_VARIANTS, { error: `must be one of ${KERNEL_VARIANTS.join(', ')}` })
  .describe('kernel variant');
/**
 * A filter's text. No control characters: no name mnsim records has one (comm is printable ASCII,
 * scenario names are [a-z0-9-]), and Postgres refuses a NUL in a parameter outright.
 */
const text = (max: number, what: string) =>
  z
    .string()
    .min(1, { error: 'must not be empty' })
    .max(max, { error: `must be at most ${max} characters` })
    // eslint-disable-next-line no-control-regex
    .regex(/^[^\x00-\x1f\x7f]*$/, { error: 'must not hold control characters' })
    .describe(what);
const limit = intParam(1, MAX_PAGE_SIZE).describe(
  `page size, 1..${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE})`,
);
const cursor = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,1024}$/, { error: 'must be a nextCursor returned by this endpoint' })
  .describe('nextCursor of the previous page');

const origin = z
  .enum(ORIGINS, { error: `must be one of ${ORIGINS.join(', ')}` })
  .describe('simulated, or observed in a real kernel log (mnsim triage --record)');

const campaign = intParam(0, 2 ** 32 - 1).describe(
  "a fuzz campaign's seed: only its runs (scenarios fuzz-<seed>-<index>)",
);

/** A run id or a unique prefix of one (like git). */
export const runIdParam = z
  .string()
  .regex(RUN_ID_PATTERN, {
    error: `must be a run id or a prefix of one (${RUN_ID_RULE})`,
  })
  .describe('run id, or a unique prefix of one');

export const listRunsQuery = z.strictObject({
  origin: origin.optional(),
  campaign: campaign.optional(),
  signature: text(512, 'only runs with a finding of this exact signature').optional(),
  scenario: text(64, 'scenario name').optional(),
  kernel: kernel.optional(),
  arch: arch.optional(),
  status: z.enum(RUN_STATUSES, { error: `must be one of ${RUN_STATUSES.join(', ')}` }).optional(),
  limit: limit.optional(),
  cursor: cursor.optional(),
});
export type ListRunsQuery = z.output<typeof listRunsQuery>;

/** The query of a route that takes none: any parameter is refused, as on the other routes. */
export const noQuery = z.strictObject({});
export type NoQuery = z.output<typeof noQuery>;

export const eventsQuery = z.strictObject({
  afterSeq: intParam(0, 2 ** 31 - 1)
    .describe('only events after this seq (nextAfterSeq of the previous page); omit to start at 0')
    .optional(),
  limit: limit.optional(),
});
export type EventsQuery = z.output<typeof eventsQuery>;

const findingKind = z
  .enum(FINDING_KINDS, { error: `must be one of ${FINDING_KINDS.join(', ')}` })
  .describe('kind of finding');

const violationFilters = {
  kind: findingKind.optional(),
  origin: origin.optional(),
  arch: arch.optional(),
  kernel: kernel.optional(),
  scenario: text(64, 'scenario name').optional(),
  run: runIdParam.optional(),
  comm: text(64, 'task name (comm)').optional(),
  signature: text(512, 'exact signature').optional(),
  campaign: campaign.optional(),
  since: since.optional(),
};

export const violationsQuery = z.strictObject({
  ...violationFilters,
  limit: limit.optional(),
  cursor: cursor.optional(),
});
export type ViolationsQuery = z.output<typeof violationsQuery>;

export const signaturesQuery = z.strictObject(violationFilters);
export type SignaturesQuery = z.output<typeof signaturesQuery>;

/** names of the built-in scenarios, as `mnsim scenarios` lists them; never a path */
const BUILTIN_NAME = /^[a-z0-9-]{1,64}$/;

const NOT_A_SCENARIO = 'must be the name of a built-in scenario or a scenario object';

/**
 * How deep a scenario object may nest: a real one is 7 levels deep (processes, vms, memslots). A
 * deeper one is refused here, before anything walks it recursively (copying it to a simulation
 * thread overflowed the stack at 3,500 levels).
 */
export const MAX_SCENARIO_DEPTH = 32;

/**
 * A scenario's YAML text is for scenarios written by hand (the built-ins are under 4 KiB); a
 * generated one goes as a JSON object, which parses a hundred times faster than YAML's flow style.
 */
export const MAX_YAML_BYTES = 128 * 1024;

/** The depth of a JSON value, walked without recursion; stops counting past `max`. */
export function depthOf(value: unknown, max: number): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    deepest = Math.max(deepest, d);
    if (deepest > max) return deepest;
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return deepest;
}

export const createRunBody = z
  .strictObject({
    scenario: z
      .union(
        [
          z.string().regex(BUILTIN_NAME, { error: NOT_A_SCENARIO }),
          z
            .record(z.string(), z.unknown())
            .refine((o) => depthOf(o, MAX_SCENARIO_DEPTH) <= MAX_SCENARIO_DEPTH, {
              error: `nests deeper than ${MAX_SCENARIO_DEPTH} levels: no scenario does`,
            }),
        ],
        { error: NOT_A_SCENARIO },
      )
      .optional()
      .describe('the name of a built-in scenario, or a scenario as a JSON object'),
    yaml: z
      .string()
      .min(1, { error: 'must not be empty' })
      .refine((t) => Buffer.byteLength(t) <= MAX_YAML_BYTES, {
        error: `must be at most ${MAX_YAML_BYTES / 1024} KiB: send a larger scenario as a JSON object (scenario)`,
      })
      .optional()
      .describe("a scenario file's YAML text"),
    kernel: kernel.optional().describe("kernel variant (overrides the scenario's)"),
    seed: z
      .int({ error: 'must be a non-negative integer' })
      .min(0, { error: 'must be a non-negative integer' })
      .optional()
      .describe("seed of the run (overrides the scenario's)"),
  })
  .refine((b) => (b.scenario === undefined) !== (b.yaml === undefined), {
    error: 'give exactly one of scenario (a built-in name or a scenario object) and yaml',
  });
export type CreateRunBody = z.output<typeof createRunBody>;

export const replayBody = z
  .strictObject({
    kernel: kernel.optional().describe('replay against this variant (counterfactual mode)'),
    arch: arch
      .optional()
      .describe('replay on this architecture, where the scenario allows (counterfactual mode)'),
    events: z
      .boolean({ error: 'must be true or false' })
      .optional()
      .describe(
        "also answer the re-executed run's events (its first ones, bounded), to draw its timeline",
      ),
  })
  .optional();
export type ReplayBody = z.output<typeof replayBody>;
