/**
 * `mnsim dlq list|show|retry|purge`: the cluster's dead-letter queue (MNSIM_REDIS_URL,
 * MNSIM_QUEUE_PREFIX), where the workers put the messages they refused, with the reason. What an
 * entry holds came from a peer: every field reaches the terminal through printable().
 */
import { printable } from '@mnsim/events';
import {
  Bus,
  DLQ_AGE_RULE,
  type DeadLetter,
  type DeadLetterQueue,
  UnretryableDeadLetterError,
  parseDeadLetterAge,
} from '@mnsim/bus';
import type { CliConfig } from '../config.js';
import { table } from '../format.js';
import { EXIT_BAD_INPUT, EXIT_OK, UsageError } from '../errors.js';
import { assertRedisReachable } from '@mnsim/bus';
import { CLUSTER_DEFAULTS } from './run.js';

async function withDeadLetters<T>(
  config: CliConfig,
  use: (dlq: DeadLetterQueue) => Promise<T>,
): Promise<T> {
  const redisUrl = config.redisUrl ?? CLUSTER_DEFAULTS.redisUrl;
  // a Bus's connections retry forever: without Redis, say so at once instead of hanging
  await assertRedisReachable(redisUrl);
  const bus = new Bus({ redisUrl, prefix: config.queuePrefix ?? 'mnsim' });
  try {
    return await use(bus.deadLetters);
  } finally {
    await bus.close();
  }
}

/** UTC, to the second, as the violations table shows times. */
function when(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

function entryJson(e: DeadLetter, withData: boolean): object {
  return {
    id: e.id,
    deadLetteredAt: new Date(e.at).toISOString(),
    queue: e.queue,
    name: e.name,
    jobId: e.jobId,
    runId: e.runId,
    reason: e.reason,
    ...(withData ? { data: e.data } : {}),
  };
}

const nEntries = (n: number): string => (n === 1 ? '1 entry' : `${n} entries`);

export async function dlqListCommand(
  opts: { json?: boolean; limit: number },
  config: CliConfig,
): Promise<number> {
  const page = await withDeadLetters(config, (dlq) => dlq.list(opts.limit));
  const { total } = page;
  if (opts.json) {
    process.stdout.write(
      JSON.stringify({ total, entries: page.entries.map((e) => entryJson(e, false)) }) + '\n',
    );
    return EXIT_OK;
  }
  if (total === 0) {
    process.stdout.write('the dead-letter queue is empty\n');
    return EXIT_OK;
  }
  const out = table(
    ['ID', 'DEAD-LETTERED', 'QUEUE', 'JOB', 'RUN', 'REASON'],
    page.entries.map((e) => [e.id, when(e.at), e.queue, e.name, e.runId ?? '-', e.reason]),
  );
  const shown =
    page.entries.length < total
      ? `${page.entries.length} of ${nEntries(total)}, newest first (--limit for more)`
      : `${nEntries(total)}, newest first`;
  process.stdout.write(`${out}${shown}\n`);
  return EXIT_OK;
}

export async function dlqShowCommand(
  id: string,
  opts: { json?: boolean },
  config: CliConfig,
): Promise<number> {
  const e = await withDeadLetters(config, (dlq) => dlq.get(id));
  if (!e) throw new UsageError(`no dead-letter entry '${id}'`);
  if (opts.json) {
    process.stdout.write(JSON.stringify(entryJson(e, true)) + '\n');
    return EXIT_OK;
  }
  const lines = [
    `id             ${e.id}`,
    `dead-lettered  ${new Date(e.at).toISOString()}`,
    `queue          ${e.queue}`,
    `job            ${e.name}${e.jobId !== null ? ` (id ${e.jobId})` : ''}`,
    `run            ${e.runId ?? '-'}`,
    `reason         ${e.reason}`,
    'data',
    // JSON escapes C0 controls in strings, not C1 or the bidi controls: each line through printable
    ...(JSON.stringify(e.data, null, 2) ?? 'undefined').split('\n'),
  ];
  process.stdout.write(lines.map(printable).join('\n') + '\n');
  return EXIT_OK;
}

export async function dlqRetryCommand(
  id: string | undefined,
  opts: { all?: boolean },
  config: CliConfig,
): Promise<number> {
  if ((id === undefined) === !opts.all) {
    throw new UsageError('dlq retry takes an entry id or --all, one of them');
  }
  const report = (r: { entry: DeadLetter; sentJobId: string }): void => {
    const run = r.entry.runId !== null ? ` of run ${r.entry.runId}` : '';
    process.stdout.write(
      printable(
        `entry ${r.entry.id}: ${r.entry.name}${run} sent back to queue ${r.entry.queue} as job ${r.sentJobId}`,
      ) + '\n',
    );
  };
  if (id !== undefined) {
    const r = await withDeadLetters(config, async (dlq) => {
      try {
        return await dlq.retry(id);
      } catch (err) {
        if (err instanceof UnretryableDeadLetterError) throw new UsageError(err.message);
        throw err;
      }
    });
    if (!r) throw new UsageError(`no dead-letter entry '${id}'`);
    report(r);
    return EXIT_OK;
  }
  const { retried, skipped } = await withDeadLetters(config, (dlq) => dlq.retryAll());
  retried.forEach(report);
  for (const s of skipped) process.stderr.write(`mnsim: ${printable(s.reason)}\n`);
  process.stdout.write(
    `${nEntries(retried.length)} retried` +
      (skipped.length > 0 ? `, ${skipped.length} left in the dead-letter queue` : '') +
      '\n',
  );
  return skipped.length > 0 ? EXIT_BAD_INPUT : EXIT_OK;
}

export async function dlqPurgeCommand(
  opts: { olderThan?: string; yes?: boolean },
  config: CliConfig,
): Promise<number> {
  let olderThanMs: number | undefined;
  if (opts.olderThan !== undefined) {
    const ms = parseDeadLetterAge(opts.olderThan);
    if (ms === null) {
      throw new UsageError(
        `--older-than ${JSON.stringify(opts.olderThan)}: expected ${DLQ_AGE_RULE}`,
      );
    }
    olderThanMs = ms;
  } else if (!opts.yes) {
    throw new UsageError(
      'dlq purge removes every entry: add --yes, or --older-than <duration> for the old ones only',
    );
  }
  const removed = await withDeadLetters(config, (dlq) => dlq.purge(olderThanMs));
  process.stdout.write(
    `${nEntries(removed)} removed from the dead-letter queue` +
      (opts.olderThan !== undefined
        ? ` (dead-lettered more than ${printable(opts.olderThan.trim())} ago)`
        : '') +
      '\n',
  );
  return EXIT_OK;
}
