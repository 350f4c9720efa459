/**
 * The shapes the API answers with, for the OpenAPI document only (answers are not validated at
 * run time: they come from the store's types). They follow the design's JSON contract.
 */
import { ARCHES, FINDING_KINDS, KERNEL_VARIANTS } from '@mnsim/kernel';
import { EVENT_TYPES, ORIGINS } from '@mnsim/events';
import { z } from 'zod';

const arch = z.enum(ARCHES);
const kernel = z.enum(KERNEL_VARIANTS);
const isoTime = z.string().describe('ISO 8601 UTC');
const origin = z
  .enum(ORIGINS)
  .describe('simulated, or observed in a real kernel log (mnsim triage --record)');
/** a run's labels: an observed run's are those its log names */
const runKernel = z
  .string()
  .describe(`${KERNEL_VARIANTS.join(', ')}; for an observed run, the release its log names`);
const runArch = z
  .string()
  .describe(`${ARCHES.join(', ')}; for an observed run, the one its log shows, or unknown`);

export const errorResponse = z
  .object({ statusCode: z.int(), error: z.string(), message: z.string() })
  .meta({ id: 'Error' });

const runFields = {
  runId: z.string(),
  origin,
  scenario: z.string().describe("the scenario's name; for an observed run, the log's"),
  kernel: runKernel,
  arch: runArch,
  seed: z.int(),
  status: z.enum(['running', 'completed', 'failed']),
  events: z.int(),
  logHash: z.string().nullable().describe('sha256:… of the canonical log; null until finished'),
  violations: z.int().describe('how many violations the run recorded'),
  failureReason: z.string().nullable(),
  createdAt: isoTime,
  finishedAt: isoTime.nullable(),
};

export const runSummaryResponse = z.object(runFields).meta({ id: 'RunSummary' });
export const runResponse = z
  .object({ ...runFields, source: z.string().nullable().describe('the scenario it ran') })
  .meta({ id: 'Run' });
export const runsPageResponse = z.object({
  runs: z.array(runSummaryResponse),
  nextCursor: z.string().nullable().describe('pass as cursor for the next page; null at the end'),
});

export const eventsPageResponse = z.object({
  runId: z.string(),
  events: z.array(
    z.object({
      seq: z.int(),
      id: z.string(),
      type: z.enum(EVENT_TYPES),
      causationId: z.string().nullable(),
      jiffies: z.int(),
      payload: z.unknown().describe('the event payload (JSON)'),
      recordedAt: isoTime,
    }),
  ),
  nextAfterSeq: z.int().nullable().describe('pass as afterSeq for the next page; null at the end'),
});

const violation = {
  seq: z.int(),
  kind: z.enum(FINDING_KINDS).describe('what was found: atomic-sleep is the one the kernel prints'),
  jiffies: z.int(),
  site: z.string().describe('arch/arm64/kvm/mmu.c:394'),
  inAtomic: z.int(),
  irqsDisabled: z.int(),
  nonBlock: z.int(),
  pid: z.int(),
  comm: z.string(),
  reported: z.boolean().describe("whether the kernel's once-per-HZ rate limit printed it"),
  signature: z.string(),
  stack: z.array(z.string()),
  text: z.string().describe('the splat as the kernel printed it'),
};
export const violationResponse = z.object(violation).meta({ id: 'Violation' });

export const runJsonResponse = z
  .object({
    runId: z.string(),
    scenario: z.string(),
    kernel,
    arch,
    seed: z.int(),
    status: z.literal('completed'),
    events: z.int(),
    logHash: z.string(),
    violations: z.array(violationResponse),
  })
  .meta({ id: 'RunResult', description: 'as `mnsim run --json` prints it' });

export const violationRowResponse = z
  .object({
    ...violation,
    runId: z.string(),
    origin,
    scenario: z.string(),
    kernel: runKernel,
    arch: runArch,
    recordedAt: isoTime,
  })
  .meta({ id: 'ViolationRow' });
export const violationsPageResponse = z.object({
  violations: z.array(violationRowResponse),
  nextCursor: z.string().nullable().describe('pass as cursor for the next page; null at the end'),
});

export const signaturesResponse = z.object({
  signatures: z.array(
    z
      .object({
        signature: z.string(),
        kind: z.enum(FINDING_KINDS),
        count: z.int(),
        runs: z.int().describe('distinct runs'),
        observed: z.int().describe('of count, the findings observed in real kernel logs'),
        kernels: z.array(z.string()),
        arches: z.array(z.string()),
        firstSeen: isoTime,
        lastSeen: isoTime,
      })
      .meta({ id: 'SignatureGroup' }),
  ),
});

export const campaignsResponse = z.object({
  campaigns: z.array(
    z
      .object({
        seed: z.int(),
        runs: z.int(),
        completed: z.int(),
        failed: z.int(),
        running: z.int(),
        violations: z.int().describe('findings recorded by its runs'),
        firstRun: isoTime,
        lastRun: isoTime,
      })
      .meta({ id: 'Campaign', description: 'the runs of one fuzz seed (scenarios fuzz-<seed>-*)' }),
  ),
});

export const signatureMatrixResponse = z.object({
  cells: z.array(
    z
      .object({
        signature: z.string(),
        kernel: runKernel,
        arch: runArch,
        count: z.int(),
        runs: z.int().describe('distinct runs'),
      })
      .meta({ id: 'SignatureCell' }),
  ),
});

const canonicalEvent = z
  .object({
    seq: z.int(),
    id: z.string(),
    type: z.enum(EVENT_TYPES),
    causationId: z.string().nullable(),
    jiffies: z.int(),
    payload: z.unknown(),
  })
  .meta({ id: 'CanonicalEvent' });

export const replayResponse = z
  .object({
    runId: z.string(),
    kernel,
    matches: z.boolean(),
    logHash: z.string(),
    expectedLogHash: z.string(),
    firstDivergence: z
      .object({
        seq: z.int(),
        expected: canonicalEvent.nullable(),
        actual: canonicalEvent.nullable(),
      })
      .nullable(),
    violations: z.array(violationResponse),
    violationsDiff: z.object({
      added: z.array(violationResponse),
      removed: z.array(violationResponse),
    }),
    events: z
      .array(canonicalEvent)
      .optional()
      .describe("with events: true, the re-executed run's events in seq order, its first ones"),
    eventsTruncated: z
      .boolean()
      .optional()
      .describe(
        'with events: true, whether the re-executed run had more events than `events` holds',
      ),
  })
  .meta({
    id: 'ReplayReport',
    description: 'as `mnsim replay --json` prints it (events and eventsTruncated only when asked)',
  });

export const kernelLogResponse = z
  .object({
    runId: z.string(),
    hz: z.int().describe("the run's HZ, which the timestamps are derived from"),
    lines: z.array(
      z
        .object({
          seq: z
            .int()
            .describe("the event that printed it: for a splat's lines, its violation event"),
          jiffies: z.int(),
          level: z.int().describe('printk level: 3 KERN_ERR, 4 KERN_WARNING, 6 KERN_INFO…'),
          text: z.string().describe('what was printed'),
          line: z.string().describe('as dmesg shows it: timestamped, non-printable bytes escaped'),
        })
        .meta({ id: 'KernelLogLine' }),
    ),
  })
  .meta({ id: 'KernelLog', description: "a run's kernel log, as `mnsim run` prints it" });

const healthIndicator = {
  status: z.enum(['up', 'down']),
  message: z.string().optional().describe('why it is down, in one line'),
};
const healthChecks = z.object({
  store: z.object({ ...healthIndicator, dialect: z.enum(['sqlite', 'postgres']) }),
  redis: z
    .object(healthIndicator)
    .optional()
    .describe('with a cluster configured (MNSIM_REDIS_URL)'),
});
export const healthResponse = z
  .object({
    status: z.enum(['ok', 'error', 'shutting_down']).describe('200 when ok, 503 otherwise'),
    info: healthChecks.partial().describe('the checks that are up'),
    error: healthChecks.partial().describe('the checks that are down'),
    details: healthChecks,
  })
  .meta({ id: 'Health', description: "a terminus health check's result" });
