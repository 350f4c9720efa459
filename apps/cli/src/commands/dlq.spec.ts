/**
 * `mnsim dlq` through the CLI's entry (main), on real Redis: each test its own queue prefix
 * (MNSIM_QUEUE_PREFIX), its entries written as a worker writes them, and its keys dropped after.
 */
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Bus, DeadLetterQueue, type DeadLetterData } from '@mnsim/bus';
import { COMPONENT_QUEUES } from '@mnsim/runtime';
import { REDIS_URL, dropPrefix } from '../../../../test/distributed/harness.js';
import { type CliOutcome, captureOutput } from '../../../../test/cli-output.js';
import { main } from '../cli.js';

const mnsim = (...args: string[]): Promise<CliOutcome> => captureOutput(() => main(args));

const RUN_ID = 'run-0001';
const HOUR = 3_600_000;

const entry = (n: number, extra: Partial<DeadLetterData> = {}): DeadLetterData => ({
  queue: COMPONENT_QUEUES.mm,
  jobId: `${RUN_ID}-invoke-e${n}`,
  name: 'invoke',
  data: { runId: RUN_ID, n },
  reason: `cursor.seq: expected number (${n})`,
  ...extra,
});

describe('mnsim dlq', () => {
  const saved = { ...process.env };
  let prefix: string;
  let bus: Bus;
  /** as the workers add entries, without a cap in the way (entries dated back stay) */
  let seed: DeadLetterQueue;

  beforeEach(() => {
    prefix = `mnsimt-dlqcli-${randomBytes(4).toString('hex')}`;
    process.env.MNSIM_REDIS_URL = REDIS_URL;
    process.env.MNSIM_QUEUE_PREFIX = prefix;
    bus = new Bus({ redisUrl: REDIS_URL, prefix });
    seed = new DeadLetterQueue((name) => bus.queue(name), {
      maxEntries: 1_000_000,
      maxAgeMs: 365 * 24 * HOUR,
    });
  });

  afterEach(async () => {
    process.env = { ...saved };
    await bus.close();
    await dropPrefix(prefix);
  });

  it('list says so when the queue is empty', async () => {
    const r = await mnsim('dlq', 'list');
    expect(r).toEqual({ code: 0, out: 'the dead-letter queue is empty\n', err: '' });
    const j = await mnsim('dlq', 'list', '--json');
    expect(JSON.parse(j.out)).toEqual({ total: 0, entries: [] });
  });

  it('list prints one line per entry, newest first, with the total', async () => {
    const ids: string[] = [];
    for (let n = 1; n <= 3; n++) ids.push(await seed.add(entry(n), Date.now() - (4 - n) * HOUR));
    await seed.add(entry(4, { queue: 'orchestrator', name: 'start', data: { garbage: true } }));
    const r = await mnsim('dlq', 'list', '--limit', '3');
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+DEAD-LETTERED\s+QUEUE\s+JOB\s+RUN\s+REASON$/);
    expect(lines[1]).toMatch(
      /^\S+\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+orchestrator\s+start\s+-\s+cursor\.seq: expected number \(4\)$/,
    );
    expect(lines[2]).toMatch(
      new RegExp(
        `^${ids[2]}\\s+\\S+ \\S+\\s+mm\\s+invoke\\s+${RUN_ID}\\s+cursor\\.seq: .*\\(3\\)$`,
      ),
    );
    expect(lines[3]).toMatch(new RegExp(`^${ids[1]}\\s.*\\(2\\)$`));
    expect(lines.slice(4)).toEqual(['3 of 4 entries, newest first (--limit for more)']);
    const j = JSON.parse((await mnsim('dlq', 'list', '--json')).out);
    expect(j.total).toBe(4);
    expect(j.entries[3]).toEqual({
      id: ids[0],
      deadLetteredAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      queue: 'mm',
      name: 'invoke',
      jobId: `${RUN_ID}-invoke-e1`,
      runId: RUN_ID,
      reason: 'cursor.seq: expected number (1)',
    });
  });

  it('prints what a peer wrote escaped: a reason with ESC and a newline stays on its line', async () => {
    const forged = 'bad\u001b[2J\nmnsim: dead-letter queue purged';
    const id = await seed.add(
      entry(1, { reason: forged, name: 'invoke\u001b]0;x\u0007', data: { runId: 'r\u202e1' } }),
    );
    // what a terminal would act on: none of it may reach it raw
    // eslint-disable-next-line no-control-regex
    const RAW = /[\u001b\u0007\u202e]/;
    const list = await mnsim('dlq', 'list');
    expect(list.code).toBe(0);
    expect(list.out).not.toMatch(RAW);
    const lines = list.out.trimEnd().split('\n');
    expect(lines).toHaveLength(3); // header, the entry, the total
    expect(lines[1]).toContain('bad\\x1b[2J\\nmnsim: dead-letter queue purged');
    expect(lines[1]).toContain('invoke\\x1b]0;x\\x07');
    expect(lines[1]).toContain('r\\u{202e}1');
    const show = await mnsim('dlq', 'show', id);
    expect(show.code).toBe(0);
    expect(show.out).not.toMatch(RAW);
    expect(show.out).toMatch(/^reason {9}bad\\x1b\[2J\\nmnsim: dead-letter queue purged$/m);
  });

  it('show prints the whole entry with its message; an unknown id is one line and exit 2', async () => {
    const id = await seed.add(entry(7, { data: { runId: RUN_ID, cursor: { seq: 'x' } } }));
    const r = await mnsim('dlq', 'show', id);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`id             ${id}\n`);
    expect(r.out).toContain('queue          mm\n');
    expect(r.out).toContain(`job            invoke (id ${RUN_ID}-invoke-e7)\n`);
    expect(r.out).toContain(`run            ${RUN_ID}\n`);
    expect(r.out).toContain('reason         cursor.seq: expected number (7)\n');
    const data = r.out.slice(r.out.indexOf('data\n') + 5);
    expect(JSON.parse(data)).toEqual({ runId: RUN_ID, cursor: { seq: 'x' } });
    const j = JSON.parse((await mnsim('dlq', 'show', id, '--json')).out);
    expect(j).toMatchObject({ id, queue: 'mm', data: { runId: RUN_ID, cursor: { seq: 'x' } } });

    for (const unknown of ['999999', 'a:b', 'x\u001by']) {
      const u = await mnsim('dlq', 'show', unknown);
      expect(u.code).toBe(2);
      expect(u.out).toBe('');
      expect(u.err.trimEnd().split('\n')).toHaveLength(1);
      expect(u.err).toMatch(/^mnsim: no dead-letter entry '/);
    }
  });

  it('retry sends the message back to its queue, same name and data, and removes the entry', async () => {
    const a = await seed.add(entry(1));
    const b = await seed.add(entry(2, { queue: 'auditor', name: 'flush', jobId: null }));
    const r = await mnsim('dlq', 'retry', a);
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      `entry ${a}: invoke of run ${RUN_ID} sent back to queue mm as job ${RUN_ID}-invoke-e1-retry-${a}\n`,
    );
    const [sent] = await bus.queue('mm').getJobs(['wait']);
    expect([sent.id, sent.name, sent.data]).toEqual([
      `${RUN_ID}-invoke-e1-retry-${a}`,
      'invoke',
      { runId: RUN_ID, n: 1 },
    ]);
    expect(await seed.get(a)).toBeNull();
    expect((await mnsim('dlq', 'retry', a)).code).toBe(2); // gone

    const c = await seed.add(entry(3));
    const all = await mnsim('dlq', 'retry', '--all');
    expect(all.code).toBe(0);
    expect(all.out.trimEnd().split('\n')).toEqual([
      `entry ${b}: flush of run ${RUN_ID} sent back to queue auditor as job dlq-retry-${b}`,
      `entry ${c}: invoke of run ${RUN_ID} sent back to queue mm as job ${RUN_ID}-invoke-e3-retry-${c}`,
      '2 entries retried',
    ]);
    expect(await seed.count()).toBe(0);
    expect((await bus.queue('auditor').getJobs(['wait'])).map((j) => j.name)).toEqual(['flush']);
    expect(await bus.queue('mm').getJobCountByTypes('wait')).toBe(2);

    // neither an id nor --all, or both
    expect((await mnsim('dlq', 'retry')).code).toBe(2);
    expect((await mnsim('dlq', 'retry', c, '--all')).code).toBe(2);
  });

  it('retry leaves an entry that does not say where its message goes, with the reason', async () => {
    const bad = await seed.add(entry(1, { queue: 'dead-letter' }));
    const r = await mnsim('dlq', 'retry', bad);
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      `mnsim: entry ${bad} cannot be retried: queue: the dead-letter queue itself\n`,
    );
    const ok = await seed.add(entry(2));
    const all = await mnsim('dlq', 'retry', '--all');
    expect(all.code).toBe(2);
    expect(all.out).toMatch(/\n1 entry retried, 1 left in the dead-letter queue\n$/);
    expect(await seed.get(bad)).not.toBeNull();
    expect(await seed.get(ok)).toBeNull();
  });

  it('purge removes the entries older than a duration, or every one with --yes', async () => {
    await seed.add(entry(1), Date.now() - 3 * HOUR);
    await seed.add(entry(2), Date.now() - 2 * HOUR);
    const young = await seed.add(entry(3), Date.now() - 10 * 60_000);
    const old = await mnsim('dlq', 'purge', '--older-than', '1h');
    expect(old).toEqual({
      code: 0,
      out: '2 entries removed from the dead-letter queue (dead-lettered more than 1h ago)\n',
      err: '',
    });
    expect((await seed.list(10)).entries.map((e) => e.id)).toEqual([young]);

    const refused = await mnsim('dlq', 'purge');
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/^mnsim: dlq purge removes every entry: add --yes/);
    expect(await seed.count()).toBe(1);
    const bad = await mnsim('dlq', 'purge', '--older-than', 'yesterday');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/^mnsim: --older-than "yesterday": expected a duration/);

    await seed.add(entry(4));
    const all = await mnsim('dlq', 'purge', '--yes');
    expect(all).toEqual({
      code: 0,
      out: '2 entries removed from the dead-letter queue\n',
      err: '',
    });
    expect(await seed.count()).toBe(0);
  });

  it('with Redis unreachable, refuses within seconds with one line, no stack', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    process.env.MNSIM_REDIS_URL = `redis://127.0.0.1:${port}`;
    for (const args of [['list'], ['show', '1'], ['retry', '--all'], ['purge', '--yes']]) {
      const t0 = Date.now();
      const r = await mnsim('dlq', ...args);
      expect(Date.now() - t0).toBeLessThan(20_000);
      expect(r.code).toBe(3);
      expect(r.out).toBe('');
      expect(r.err).toMatch(
        new RegExp(
          `^mnsim: cannot reach Redis at redis://127\\.0\\.0\\.1:${port} \\(.*ECONNREFUSED.*\\)`,
        ),
      );
      expect(r.err.trimEnd().split('\n')).toHaveLength(1);
    }
  });
});
