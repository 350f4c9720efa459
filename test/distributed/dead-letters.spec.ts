/**
 * The dead-letter queue's cap, on real Redis: by count and by age, applied when a worker
 * dead-letters a message, with the limits from the environment (MNSIM_DLQ_MAX_ENTRIES,
 * MNSIM_DLQ_MAX_AGE) reaching the workers' bus.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Bus,
  BusProvider,
  DEFAULT_DLQ_MAX_AGE_MS,
  DEFAULT_DLQ_MAX_ENTRIES,
  DeadLetterQueue,
  parseClusterConfig,
  parseDeadLetterAge,
  type BusLogger,
  type DeadLetterData,
} from '@mnsim/bus';
import { ConfigError } from '@mnsim/config';
import { COMPONENT_QUEUES, MalformedMessageError } from '@mnsim/runtime';
import { REDIS_URL, dropPrefix } from './harness.js';

const DAY = 86_400_000;

const entry = (n: number, extra: Partial<DeadLetterData> = {}): DeadLetterData => ({
  queue: COMPONENT_QUEUES.mm,
  jobId: `bad-${n}`,
  name: 'invoke',
  data: { n },
  reason: `reason ${n}`,
  ...extra,
});

describe('the dead-letter queue', () => {
  const buses: Bus[] = [];
  const prefixes: string[] = [];

  function bus(limits?: { maxEntries?: number; maxAgeMs?: number }): Bus {
    const prefix = `mnsimt-dlq-${randomBytes(4).toString('hex')}`;
    prefixes.push(prefix);
    const b = new Bus({ redisUrl: REDIS_URL, prefix, deadLetterLimits: limits });
    buses.push(b);
    return b;
  }

  /** Another bus on the same prefix, with no cap to speak of: to seed entries as they were. */
  function uncapped(b: Bus): DeadLetterQueue {
    const seeder = new Bus({ redisUrl: REDIS_URL, prefix: b.opts.prefix });
    buses.push(seeder);
    return new DeadLetterQueue((name) => seeder.queue(name), {
      maxEntries: 1_000_000,
      maxAgeMs: 3650 * DAY,
    });
  }

  afterEach(async () => {
    await Promise.all(buses.splice(0).map((b) => b.close()));
    for (const p of prefixes.splice(0)) await dropPrefix(p);
  });

  it('keeps the newest MNSIM_DLQ_MAX_ENTRIES entries: each add removes the oldest beyond it', async () => {
    const b = bus({ maxEntries: 5 });
    const ids: string[] = [];
    for (let n = 1; n <= 8; n++) ids.push(await b.deadLetters.add(entry(n)));
    const { total, entries } = await b.deadLetters.list(100);
    expect(total).toBe(5);
    expect(entries.map((e) => e.id)).toEqual(ids.slice(3).reverse());
    expect(entries.map((e) => e.reason)).toEqual([8, 7, 6, 5, 4].map((n) => `reason ${n}`));
    // the removed ones are gone, not just hidden
    expect(await b.deadLetters.get(ids[0])).toBeNull();
  });

  it('drops entries older than MNSIM_DLQ_MAX_AGE when something is dead-lettered', async () => {
    const b = bus({ maxAgeMs: DAY });
    const seed = uncapped(b);
    const now = Date.now();
    await seed.add(entry(1), now - 3 * DAY);
    await seed.add(entry(2), now - 2 * DAY);
    const young = await seed.add(entry(3), now - 2 * 3_600_000);
    expect(await b.deadLetters.count()).toBe(3);
    const fresh = await b.deadLetters.add(entry(4));
    const { total, entries } = await b.deadLetters.list(100);
    expect(total).toBe(2);
    expect(entries.map((e) => e.id)).toEqual([fresh, young]);
  });

  it('a worker that refuses a message dead-letters it under the cap', async () => {
    const b = bus({ maxEntries: 3 });
    const warned: string[] = [];
    const log: BusLogger = (level, msg) => {
      if (level === 'warn') warned.push(msg);
    };
    const source = b.queue(COMPONENT_QUEUES.mm);
    for (let n = 1; n <= 6; n++) await source.add('invoke', { n }, { jobId: `bad-${n}` });
    b.serve(
      COMPONENT_QUEUES.mm,
      (_name, data) => {
        throw new MalformedMessageError(`n: ${(data as { n: number }).n} is not a message`);
      },
      { concurrency: 1, log },
    );
    for (let i = 0; i < 100 && warned.length < 6; i++) await new Promise((r) => setTimeout(r, 50));
    expect(warned).toHaveLength(6);
    const { total, entries } = await b.deadLetters.list(10);
    expect(total).toBe(3);
    expect(entries.map((e) => [e.queue, e.jobId, e.name, e.data, e.reason])).toEqual(
      [6, 5, 4].map((n) => [
        COMPONENT_QUEUES.mm,
        `bad-${n}`,
        'invoke',
        { n },
        `n: ${n} is not a message`,
      ]),
    );
  });

  it('defaults to 10,000 entries and 7 days', () => {
    const b = bus();
    expect(b.deadLetters.limits).toEqual({ maxEntries: 10_000, maxAgeMs: 7 * DAY });
    expect([DEFAULT_DLQ_MAX_ENTRIES, DEFAULT_DLQ_MAX_AGE_MS]).toEqual([10_000, 7 * DAY]);
  });

  it('takes its limits from MNSIM_DLQ_MAX_ENTRIES and MNSIM_DLQ_MAX_AGE; a bad value is a configuration error', async () => {
    const config = parseClusterConfig({
      MNSIM_QUEUE_PREFIX: `mnsimt-dlq-${randomBytes(4).toString('hex')}`,
      MNSIM_DLQ_MAX_ENTRIES: '250',
      MNSIM_DLQ_MAX_AGE: '36h',
    });
    prefixes.push(config.MNSIM_QUEUE_PREFIX);
    const provider = new BusProvider(config, () => undefined);
    try {
      expect(provider.bus.deadLetters.limits).toEqual({
        maxEntries: 250,
        maxAgeMs: 36 * 3_600_000,
      });
    } finally {
      await provider.onApplicationShutdown();
    }
    // unset: the keys stay absent and the bus's defaults apply
    expect(parseClusterConfig({})).not.toHaveProperty('MNSIM_DLQ_MAX_AGE');
    for (const [env, named] of [
      [{ MNSIM_DLQ_MAX_ENTRIES: 'many' }, 'MNSIM_DLQ_MAX_ENTRIES '],
      [{ MNSIM_DLQ_MAX_ENTRIES: '0' }, 'MNSIM_DLQ_MAX_ENTRIES '],
      [{ MNSIM_DLQ_MAX_AGE: '7 days' }, 'MNSIM_DLQ_MAX_AGE must be a duration'],
      [{ MNSIM_DLQ_MAX_AGE: '400d' }, 'MNSIM_DLQ_MAX_AGE must be a duration'],
      [{ MNSIM_DLQ_MAX_AGE: '500ms' }, 'MNSIM_DLQ_MAX_AGE must be a duration'],
    ] as const) {
      expect(() => parseClusterConfig(env)).toThrow(ConfigError);
      expect(() => parseClusterConfig(env)).toThrow(named);
    }
  });

  it('reads an age as MNSIM_RUN_TIMEOUT reads a timeout, and in hours and days', () => {
    expect(
      ['90', '90s', '1500ms', '2m', '1.5h', '7d', ' 12 h '].map((s) => parseDeadLetterAge(s)),
    ).toEqual([90_000, 90_000, 1500, 120_000, 5_400_000, 7 * DAY, 12 * 3_600_000]);
    for (const bad of ['', 'd', '-1d', '1w', '1e3', '0', '999ms', '366d']) {
      expect(parseDeadLetterAge(bad), bad).toBeNull();
    }
  });
});
