/**
 * The dead-letter queue: where a served job whose message failed validation goes, with the reason
 * (Bus.processJob). Its entries are BullMQ jobs named DEAD_LETTER_JOB waiting in DEAD_LETTER_QUEUE,
 * which no worker serves, newest at the head of the wait list. Here every operation on it: add
 * (with the cap), list, get, retry, purge.
 *
 * The cap. BullMQ's own (removeOnComplete/removeOnFail with count and age) applies only to jobs
 * that finish, and these never do: the queue is trimmed here, after each add, with Queue.clean on
 * its wait list. Clean with a limit looks only at that many entries at the tail, the oldest: one
 * script removes those beyond the count, and, when the oldest entry is past the age, another
 * removes up to TRIM_BATCH entries past it. Best effort, like BullMQ's: the age is enforced when
 * something is dead-lettered (or by `mnsim dlq purge --older-than`), and two workers trimming at
 * once may remove a few more than needed.
 */
import type { Job, Queue } from 'bullmq';
import { z } from 'zod';
import { DEAD_LETTER_QUEUE } from '@mnsim/runtime';

export const DEAD_LETTER_JOB = 'dead';

/** MNSIM_DLQ_MAX_ENTRIES and MNSIM_DLQ_MAX_AGE when unset: issue 15's 10,000 entries, 7 days. */
export const DEFAULT_DLQ_MAX_ENTRIES = 10_000;
export const DEFAULT_DLQ_MAX_AGE_MS = 7 * 86_400_000;

export interface DeadLetterLimits {
  maxEntries: number;
  maxAgeMs: number;
}

export const DEFAULT_DEAD_LETTER_LIMITS: DeadLetterLimits = {
  maxEntries: DEFAULT_DLQ_MAX_ENTRIES,
  maxAgeMs: DEFAULT_DLQ_MAX_AGE_MS,
};

/** The most entries one add removes for their age (the rest go with the next adds). */
const TRIM_BATCH = 1000;
/** Entries removed per script by a purge. */
const PURGE_BATCH = 1000;

const UNITS_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * A duration as MNSIM_RUN_TIMEOUT takes one (seconds, or a number with ms, s or m), or with h or
 * d: in milliseconds, or null when it is none.
 */
export function parseDurationMs(raw: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(raw.trim());
  if (!m) return null;
  return Math.round(Number(m[1]) * UNITS_MS[(m[2] ?? 's') as keyof typeof UNITS_MS]);
}

/** MNSIM_DLQ_MAX_AGE and `mnsim dlq purge --older-than`: from a second to a year. */
export const DLQ_AGE_RANGE_MS = { min: 1000, max: 365 * 86_400_000 } as const;
export const DLQ_AGE_RULE = 'a duration from 1 s to 365 d, in seconds or with ms, s, m, h or d';

/** A dead-letter age (MNSIM_DLQ_MAX_AGE, --older-than) in ms, or null when it is not one. */
export function parseDeadLetterAge(raw: string): number | null {
  const ms = parseDurationMs(raw);
  return ms !== null && ms >= DLQ_AGE_RANGE_MS.min && ms <= DLQ_AGE_RANGE_MS.max ? ms : null;
}

/** What a worker dead-letters: where the message was, what it was, and why it was refused. */
export interface DeadLetterData {
  queue: string;
  jobId: string | null;
  name: string;
  data: unknown;
  reason: string;
}

/** An entry as read back: its data's fields, whatever an entry holds (shown as `?` if missing). */
export interface DeadLetter extends DeadLetterData {
  id: string;
  /** when it was dead-lettered, in ms since the epoch (the worker's clock) */
  at: number;
  /** the message's runId, when it has one */
  runId: string | null;
}

export interface RetriedDeadLetter {
  entry: DeadLetter;
  /** the id of the job added to the entry's queue */
  sentJobId: string;
}

/** An entry that cannot be sent back: its fields are not those of a dead-lettered message. */
export class UnretryableDeadLetterError extends Error {}

/** A queue name BullMQ accepts and a worker could serve (no ':'), never the dead-letter queue. */
const sourceQueue = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'not a queue name')
  .refine((q) => q !== DEAD_LETTER_QUEUE, 'the dead-letter queue itself');

const retryable = z.object({
  queue: sourceQueue,
  name: z.string().min(1, 'no job name'),
  data: z.unknown(),
});

/** Entry ids are BullMQ job ids of this queue: no ':' (it would name another key). */
const ENTRY_ID = /^[A-Za-z0-9_.-]{1,200}$/;

function field(data: Record<string, unknown>, key: string): string {
  const v = data[key];
  return typeof v === 'string' ? v : '?';
}

function entryOf(job: Job): DeadLetter {
  const data: Record<string, unknown> =
    job.data && typeof job.data === 'object' ? (job.data as Record<string, unknown>) : {};
  const message = data.data;
  const runId =
    message &&
    typeof message === 'object' &&
    typeof (message as { runId?: unknown }).runId === 'string'
      ? (message as { runId: string }).runId
      : null;
  return {
    id: String(job.id),
    at: job.timestamp,
    queue: field(data, 'queue'),
    jobId: typeof data.jobId === 'string' ? data.jobId : null,
    name: field(data, 'name'),
    data: message,
    reason: field(data, 'reason'),
    runId,
  };
}

/**
 * The id a retried message is sent with: derived from the entry, so a retry repeated before the
 * first one's job is gone (a crash between the send and the removal) is not sent twice; never the
 * original id, which a job kept in the failed set may still hold (the add would be ignored).
 */
function retryJobId(entry: DeadLetter): string {
  const base = entry.jobId !== null && ENTRY_ID.test(entry.jobId) ? entry.jobId : 'dlq';
  return `${base}-retry-${entry.id}`;
}

/** The dead-letter queue of one prefix; `queueOf` gives the bus's queue of a name. */
export class DeadLetterQueue {
  constructor(
    private readonly queueOf: (name: string) => Queue,
    readonly limits: DeadLetterLimits = DEFAULT_DEAD_LETTER_LIMITS,
  ) {}

  private get queue(): Queue {
    return this.queueOf(DEAD_LETTER_QUEUE);
  }

  /**
   * Dead-letters a message, then trims the queue to the limits. `now`: when it happened (tests
   * date entries back with it). Returns the entry's id.
   */
  async add(entry: DeadLetterData, now = Date.now()): Promise<string> {
    const job = await this.queue.add(DEAD_LETTER_JOB, entry, {
      removeOnComplete: true,
      removeOnFail: false,
      attempts: 1,
      timestamp: now,
    });
    // the message is dead-lettered: a failed trim must not fail its job (a retry of the job would
    // dead-letter it twice); the next add trims
    await this.trim().catch(() => undefined);
    return String(job.id);
  }

  /** Removes the oldest entries beyond the count, then those past the age; returns how many. */
  async trim(): Promise<number> {
    const queue = this.queue;
    let removed = 0;
    const excess = (await this.count()) - this.limits.maxEntries;
    if (excess > 0) removed += (await queue.clean(0, excess, 'wait')).length;
    const [oldest] = await queue.getJobs(['wait'], 0, 0, true);
    if (oldest && oldest.timestamp <= Date.now() - this.limits.maxAgeMs) {
      removed += (await queue.clean(this.limits.maxAgeMs, TRIM_BATCH, 'wait')).length;
    }
    return removed;
  }

  count(): Promise<number> {
    return this.queue.getJobCountByTypes('wait');
  }

  /** The newest `limit` entries, newest first, and how many there are. */
  async list(limit: number): Promise<{ total: number; entries: DeadLetter[] }> {
    const [total, jobs] = await Promise.all([
      this.count(),
      this.queue.getJobs(['wait'], 0, Math.max(0, limit - 1), false),
    ]);
    return { total, entries: limit > 0 ? jobs.map(entryOf) : [] };
  }

  private async job(id: string): Promise<Job | null> {
    if (!ENTRY_ID.test(id)) return null;
    return (await this.queue.getJob(id)) ?? null;
  }

  /** The entry of that id, or null. */
  async get(id: string): Promise<DeadLetter | null> {
    const job = await this.job(id);
    return job ? entryOf(job) : null;
  }

  /**
   * Sends the entry's message back to its queue (same job name and data, the queue's usual job
   * options), then removes the entry; null when there is no such entry. A message that is still
   * malformed comes back here, as a new entry.
   * @throws UnretryableDeadLetterError when the entry does not say where to send what
   */
  async retry(id: string): Promise<RetriedDeadLetter | null> {
    const job = await this.job(id);
    if (!job) return null;
    const entry = entryOf(job);
    const r = retryable.safeParse(job.data);
    if (!r.success) {
      const issue = r.error.issues[0];
      throw new UnretryableDeadLetterError(
        `entry ${id} cannot be retried: ${issue?.path.join('.') || 'entry'}: ${issue?.message ?? 'invalid'}`,
      );
    }
    const sent = await this.queueOf(r.data.queue).add(r.data.name, r.data.data, {
      jobId: retryJobId(entry),
    });
    // 0 when a trim took the entry meanwhile: it is gone either way
    await this.queue.remove(id);
    return { entry, sentJobId: String(sent.id) };
  }

  /**
   * Every entry there is now, oldest first (what arrives meanwhile, a retried message dead-lettered
   * again among them, waits for the next call). Those that cannot be sent stay, with the reason.
   */
  async retryAll(): Promise<{
    retried: RetriedDeadLetter[];
    skipped: Array<{ id: string; reason: string }>;
  }> {
    const ids = await this.queue.getRanges(['wait'], 0, -1, true);
    const retried: RetriedDeadLetter[] = [];
    const skipped: Array<{ id: string; reason: string }> = [];
    for (const id of ids) {
      try {
        const r = await this.retry(id);
        if (r) retried.push(r);
      } catch (err) {
        if (!(err instanceof UnretryableDeadLetterError)) throw err;
        skipped.push({ id, reason: err.message });
      }
    }
    return { retried, skipped };
  }

  /**
   * Removes the entries dead-lettered at least `olderThanMs` ago (every entry there is now by
   * default); returns how many. Oldest first, PURGE_BATCH per script.
   */
  async purge(olderThanMs = 0): Promise<number> {
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    for (;;) {
      const n = (await this.queue.clean(Date.now() - cutoff, PURGE_BATCH, 'wait')).length;
      removed += n;
      if (n < PURGE_BATCH) return removed;
    }
  }
}
