/**
 * A bus whose Redis is unreachable keeps retrying (workers must survive a Redis restart), and says
 * so once per distinct error and quiet period, not once per retry with a stack.
 */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Bus } from '@mnsim/bus';

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
