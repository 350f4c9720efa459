/**
 * The distributed protocol: queue names, job names and the messages on them, each with its zod
 * schema. Queue and job names are a persisted contract: changing one strands jobs in Redis.
 *
 * One chain is in flight per run. The orchestrator sends a stimulus as an `invoke` to the target
 * component; a component that calls another sends it an `invoke` and, when the callee returns, gets
 * a `reply`; the final return goes back to the orchestrator as `done`. Every handler stages the
 * events it emitted in Redis with its state (run-state.ts); once FLUSH_EVENTS are staged the
 * orchestrator sends the auditor a `flush`, which moves the run's staged events to the event
 * store in one batch, and at the end `finish`, which flushes what is left and closes the run.
 * A message's context travels as a wire context (wire-context.ts): most of it by reference.
 */
import { z } from 'zod';
import { ARCHES, KERNEL_VARIANTS, type Address, type Arch } from '@mnsim/kernel';
import { RUN_ID_PATTERN, RUN_ID_RULE } from '@mnsim/events';
import { wireContextSchema } from './wire-context.js';

export const ORCHESTRATOR_QUEUE = 'orchestrator';
export const AUDITOR_QUEUE = 'auditor';
export const DEAD_LETTER_QUEUE = 'dead-letter';
export const COMPONENT_QUEUES = {
  task: 'task',
  mm: 'mm',
  oom: 'oom',
} as const;

/** BullMQ queue names may not contain ':' (it separates Redis key parts). */
export function kvmQueue(arch: Arch): string {
  return `kvm-${arch}`;
}

export function queueOf(address: Address): string {
  if (address.startsWith('kvm:')) return kvmQueue(address.slice(4) as Arch);
  return COMPONENT_QUEUES[address as keyof typeof COMPONENT_QUEUES];
}

export const JOB = {
  invoke: 'invoke',
  reply: 'reply',
  start: 'start',
  done: 'done',
  timeout: 'timeout',
  fail: 'fail',
  flush: 'flush',
  finish: 'finish',
} as const;

const runId = z.string().regex(RUN_ID_PATTERN, `run ids are ${RUN_ID_RULE}`);
const eventId = z.string().regex(/^[A-Za-z0-9_.-]{1,200}$/, 'event ids are [A-Za-z0-9_.-]+');
const count = z.number().int().nonnegative();
const address = z.union([
  z.enum(['task', 'mm', 'oom']),
  z.templateLiteral(['kvm:', z.enum(ARCHES)]),
]);

const armedTimer = z.object({
  at: z.number().int(),
  to: address,
  fn: z.string(),
  args: z.unknown(),
  armedBy: eventId,
  id: eventId,
});

/** Where the chain stands: the next seq, the violations so far, the timers armed by this chain. */
export const cursorSchema = z.object({
  seq: count,
  violations: count,
  armed: z.array(armedTimer),
});

const replyTo = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('orchestrator') }),
  z.object({ kind: z.literal('component'), address, handlerId: eventId, index: count }),
]);

export const invokeSchema = z.object({
  runId,
  /** the id of the step/timer/call event that asked for this handler: the handler's frame */
  id: eventId,
  to: address,
  fn: z.string().min(1),
  args: z.unknown(),
  ctx: wireContextSchema,
  cursor: cursorSchema,
  replyTo,
});

export const replySchema = z.object({
  runId,
  /** the caller's handler (frame) id and which of its calls this answers */
  handlerId: eventId,
  index: count,
  ret: z.unknown(),
  ctx: wireContextSchema,
  cursor: cursorSchema,
});

export const startSchema = z.object({
  runId,
  kernel: z.enum(KERNEL_VARIANTS),
  seed: z.number().int(),
  /** the normalized scenario (already validated by @mnsim/scenarios) */
  scenario: z.looseObject({
    name: z.string(),
    hz: z.number().int().positive(),
    host: z.looseObject({ arch: z.enum(ARCHES) }),
    steps: z.array(z.unknown()),
  }),
  timeoutMs: z.number().int().positive(),
});

export const doneSchema = z.object({
  runId,
  stimulusId: eventId,
  ret: z.unknown(),
  ctx: wireContextSchema,
  cursor: cursorSchema,
});

export const timeoutSchema = z.object({ runId, stimulusId: eventId });

export const failSchema = z.object({ runId, reason: z.string() });

/** An event as the workers stage it for the auditor (run-state.ts). */
export interface WireEvent {
  id: string;
  seq: number;
  type: 'run.start' | 'step' | 'timer' | 'call' | 'return' | 'violation' | 'run.end';
  causationId: string | null;
  jiffies: number;
  /** the canonical JSON of the payload, as hashed */
  payload: string;
}

const runLabels = z.object({ scenario: z.string(), kernel: z.string(), arch: z.string() });

/** The run's staged events (and the labels its violations are recorded with) to the store. */
export const flushSchema = z.object({ runId, meta: runLabels });

export const finishSchema = z.object({
  runId,
  meta: runLabels,
  status: z.enum(['completed', 'failed']),
  events: count,
  violations: count,
  failureReason: z.string().nullable(),
});

export type InvokeMessage = z.infer<typeof invokeSchema>;
export type ReplyMessage = z.infer<typeof replySchema>;
export type StartMessage = z.infer<typeof startSchema>;
export type DoneMessage = z.infer<typeof doneSchema>;
export type TimeoutMessage = z.infer<typeof timeoutSchema>;
export type FailMessage = z.infer<typeof failSchema>;
export type FlushMessage = z.infer<typeof flushSchema>;
export type RunLabels = z.infer<typeof runLabels>;
export type FinishMessage = z.infer<typeof finishSchema>;
export type Cursor = z.infer<typeof cursorSchema>;
export type ReplyTo = z.infer<typeof replyTo>;

/** Every job of the protocol by its name: the message it carries. */
export interface JobMessages {
  invoke: InvokeMessage;
  reply: ReplyMessage;
  start: StartMessage;
  done: DoneMessage;
  timeout: TimeoutMessage;
  fail: FailMessage;
  flush: FlushMessage;
  finish: FinishMessage;
}

export type JobName = keyof JobMessages;

const JOB_SCHEMAS: { readonly [N in JobName]: z.ZodType<JobMessages[N]> } = {
  invoke: invokeSchema,
  reply: replySchema,
  start: startSchema,
  done: doneSchema,
  timeout: timeoutSchema,
  fail: failSchema,
  flush: flushSchema,
  finish: finishSchema,
};

/** A job named one of `N`, its message's type following from its name (a switch on it narrows). */
export type Job<N extends JobName = JobName> = {
  [K in N]: { name: K; data: JobMessages[K] };
}[N];

/** The jobs each kind of queue takes. */
export const COMPONENT_JOBS = [JOB.invoke, JOB.reply] as const;
export const ORCHESTRATOR_JOBS = [JOB.start, JOB.done, JOB.timeout, JOB.fail] as const;
export const AUDITOR_JOBS = [JOB.flush, JOB.finish] as const;

/** A job to send: persisted before it is sent, so a redelivered message re-sends the same. */
export type OutboxJob<N extends JobName = JobName> = {
  [K in N]: {
    queue: string;
    name: K;
    jobId: string;
    data: JobMessages[K];
    /** attempts with a fixed 200 ms backoff (the auditor's finish waits for batches in flight) */
    attempts?: number;
  };
}[N];

/** A message that failed validation: `reason` names the field path. */
export class MalformedMessageError extends Error {}

/** Not an error: the job is retried later by BullMQ (logged at info level). */
export class RetryLaterError extends Error {}

/**
 * The job as the queue that got it takes it: a name it accepts, a message its schema validates.
 * Anything else is a MalformedMessageError naming the name or the field path.
 */
export function parseJob<N extends JobName>(
  accepted: readonly N[],
  name: string,
  data: unknown,
): Job<N> {
  if (!(accepted as readonly string[]).includes(name)) {
    throw new MalformedMessageError(`unknown job name '${name}'`);
  }
  const r = (JOB_SCHEMAS[name as N] as z.ZodType).safeParse(data);
  if (!r.success) {
    const issue = r.error.issues[0];
    const path = issue?.path.length ? issue.path.join('.') : '(root)';
    throw new MalformedMessageError(`${path}: ${issue?.message ?? 'invalid'}`);
  }
  // the name was accepted and its own schema validated the data
  return { name, data: r.data } as unknown as Job<N>;
}

/** Deterministic job ids: from the run and the event, never ':' and never integer-like. */
export function jobId(runIdValue: string, kind: string, id: string): string {
  return `${runIdValue}-${kind}-${id}`;
}
