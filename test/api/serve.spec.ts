/**
 * `serve`: listens where the configuration says, prints one line with the URL, stops on close() or
 * on SIGINT/SIGTERM, and turns an address it cannot bind into a one-line configuration error.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiConfig, ApiConfigError, serve } from '@mnsim/http';

describe('serve', () => {
  let dir: string;
  let config: ApiConfig;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mnsim-serve-'));
    config = {
      host: '127.0.0.1',
      port: 0,
      token: null,
      bodyLimitBytes: 1024 * 1024,
      store: { sqlitePath: join(dir, 'mnsim.sqlite') },
    };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('listens on 127.0.0.1, logs one line with the URL, and stops on close()', async () => {
    const lines: string[] = [];
    const api = await serve(config, (line) => lines.push(line));
    try {
      expect(api.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(lines).toEqual([
        `mnsim serve: listening on ${api.url} (store ${join(dir, 'mnsim.sqlite')})`,
      ]);
      const res = await fetch(`${api.url}/health`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({
        status: 'ok',
        details: { store: { status: 'up', dialect: 'sqlite' } },
      });
    } finally {
      await api.close();
    }
    await api.closed;
    await expect(fetch(`${api.url}/health`)).rejects.toThrow();
  });

  it('stops on SIGTERM and SIGINT, and takes its handlers away afterwards', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const before = process.listeners(signal);
      const api = await serve(config, () => undefined);
      const added = process.listeners(signal).filter((l) => !before.includes(l));
      expect(added).toHaveLength(1);
      // call the handler rather than signal the test process
      added[0](signal);
      await api.closed;
      expect(process.listeners(signal)).toEqual(before);
      await expect(fetch(`${api.url}/health`)).rejects.toThrow();
    }
  });

  it('warns when it listens beyond loopback without a token', async () => {
    const lines: string[] = [];
    const api = await serve({ ...config, host: '0.0.0.0' }, (line) => lines.push(line));
    await api.close();
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(
      /^mnsim serve: warning: 0\.0\.0\.0 is reachable from other machines and MNSIM_API_TOKEN is not set/,
    );
  });

  it('a port in use is a one-line ApiConfigError', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    try {
      const err: unknown = await serve({ ...config, port }, () => undefined).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ApiConfigError);
      expect((err as Error).message).toMatch(
        new RegExp(`^cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`),
      );
    } finally {
      blocker.close();
    }
  });
});
