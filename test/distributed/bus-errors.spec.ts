/**
 * A bus whose Redis is unreachable keeps retrying (workers must survive a Redis restart), and says
 * so once per distinct error and quiet period, not once per retry with a stack. A bus that closes
 * leaves no connection of its own open.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type { Redis } from 'ioredis';
import { describe, expect, it, vi } from 'vitest';
import { Bus, ChainWatchdog, type RunStateRepository } from '@mnsim/bus';
import { REDIS_URL, dropPrefix } from './harness.js';

function unusedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

describe('a bus whose Redis is unreachable', () => {
  it('reports the connection error once per quiet period, through its reporter', async () => {
    const port = await unusedPort();
    const errors: string[] = [];
    const bus = new Bus({
      redisUrl: `redis://127.0.0.1:${port}`,
      prefix: 'mnsimt-unreachable',
      onConnectionError: (err) => errors.push(err.message),
    });
    bus.queue('orchestrator'); // a queue on the same connection reports through the same path
    try {
      // ioredis retries every ~50-200 ms at first: many retries in this window
      await new Promise((r) => setTimeout(r, 1500));
      expect(errors.length).toBeGreaterThanOrEqual(1);
      expect(new Set(errors).size).toBe(errors.length); // each distinct message once
      expect(errors[0]).toContain('ECONNREFUSED');
    } finally {
      await bus.close();
    }
  });
});

describe('a chain watchdog whose Redis is unreachable', () => {
  it('skips its ticks while a sweep waits, and lets its bus close promptly', async () => {
    const port = await unusedPort();
    const bus = new Bus({
      redisUrl: `redis://127.0.0.1:${port}`,
      prefix: 'mnsimt-unreachable-wd',
      onConnectionError: () => undefined,
    });
    const watchdog = new ChainWatchdog(bus, () => undefined, { intervalMs: 20 });
    // each sweep starts with its claim of the expired chains (one script on Redis)
    const sweeps = vi.spyOn(
      (watchdog as unknown as { runs: RunStateRepository }).runs,
      'claimExpiredChains',
    );
    watchdog.start();
    await new Promise((r) => setTimeout(r, 500));
    // the first sweep waits for a connection: the 20 ms ticks after it do not start more
    expect(sweeps).toHaveBeenCalledTimes(1);
    const t = Date.now();
    await bus.close();
    expect(Date.now() - t).toBeLessThan(3000);
  });
});

describe('a bus that serves queues', () => {
  it('closes the connections of the workers it serves when it closes', async () => {
    const prefix = `mnsimt-serveclose-${randomBytes(4).toString('hex')}`;
    const bus = new Bus({ redisUrl: REDIS_URL, prefix });
    // the connection the bus makes for its worker (observed, not replaced)
    const duplicate = vi.spyOn(bus.redis, 'duplicate');
    const worker = bus.serve('orchestrator', () => Promise.resolve(), {
      concurrency: 1,
      log: () => undefined,
    });
    await worker.waitUntilReady();
    const connection = duplicate.mock.results[0].value as Redis;
    await connection.ping();
    expect(connection.status).toBe('ready');
    await bus.close();
    // ioredis ends a connection asynchronously: give it a moment
    for (let i = 0; i < 40 && connection.status !== 'end'; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(connection.status).toBe('end');
    await dropPrefix(prefix);
  });
});
