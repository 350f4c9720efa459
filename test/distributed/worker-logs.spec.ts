/**
 * A worker's log stays one JSON object a line while its Redis is away: every connection of the
 * process (its BullMQ Worker, the Queue its module registers, the bus's own) retries several
 * times a second, and each retry's error used to come out as a multi-line stack trace (about 80
 * lines for a 3 s outage, from one worker). Now each distinct error is one JSON line per quiet
 * period, and the worker serves again once Redis is back.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bus } from '@mnsim/bus';
import { COMPONENT_QUEUES } from '@mnsim/runtime';
import { PrivateRedis } from './private-redis.js';
import { buildDist } from './processes.js';

const ROOT = join(import.meta.dirname, '../..');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('a worker whose Redis goes away for 3 s', () => {
  let redis: PrivateRedis | null = null;
  beforeAll(async () => {
    if (!process.env.MNSIM_TEST_SKIP_BUILD) buildDist();
    redis = await PrivateRedis.start();
  }, 120_000);
  afterAll(async () => {
    await redis?.cleanup();
  });

  it('logs one JSON object a line, each connection error once, and serves again', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'dist/apps/mmu-notifier/src/main.js')], {
      env: { PATH: process.env.PATH, MNSIM_REDIS_URL: redis!.url, MNSIM_QUEUE_PREFIX: 'logs' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    try {
      for (let i = 0; i < 600 && !output.includes('"message":"serving"'); i++) await sleep(50);
      expect(output).toContain('"message":"serving"');
      await redis!.kill();
      await sleep(3000);
      await redis!.start();
      // back: the worker's connections reconnect (ioredis retries within 2 s), it serves again
      const bus = new Bus({ redisUrl: redis!.url, prefix: 'logs' });
      try {
        let workers = 0;
        for (let i = 0; i < 100 && workers === 0; i++) {
          await sleep(100);
          workers = await bus.queue(COMPONENT_QUEUES.mm).getWorkersCount();
        }
        expect(workers).toBe(1);
      } finally {
        await bus.close();
      }
      expect(child.exitCode).toBeNull();
      const lines = output.trimEnd().split('\n');
      for (const line of lines) expect(() => JSON.parse(line) as unknown, line).not.toThrow();
      const errors = lines
        .map((l) => JSON.parse(l) as { level: string; message: string; queue?: string })
        .filter((l) => l.level === 'error');
      // the bus's connections and the queue's: each says it once, whatever the retries
      expect(errors.length).toBeGreaterThan(0);
      expect(errors.length).toBeLessThanOrEqual(4);
      for (const e of errors) expect(e.message).toBe('Redis connection error');
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);
});
