/**
 * GET /health of an api given a cluster (MNSIM_REDIS_URL) checks Redis too, within a bound: with
 * nothing listening at the URL, with a server that takes the connection and never says it is
 * ready, with a Redis that is ready but does not answer PING, and with the Redis of an
 * orchestrating api killed under it, it is 503 within 2 s with a one-line reason under `redis`,
 * the store's check still up beside it, and nothing of the URL; up again once Redis is back.
 * An orchestrating api started while its Redis is away starts all the same: it answers /health
 * (Redis down) and its queries of the store, and serves its queues once Redis comes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, type Server, type Socket, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BusProvider, workerLogger } from '@mnsim/bus';
import { createApiApp, loadApiConfig } from '@mnsim/http';
import { ClusterBus } from '../../libs/http/src/metrics.service.js';
import { TimedOut, within } from '../../libs/http/src/within.js';
import { PrivateRedis, freePort } from '../distributed/private-redis.js';
import { buildDist } from '../distributed/processes.js';

/**
 * A TCP server speaking just enough of Redis's protocol: `ready: false` never answers anything
 * (the connection is made, the client's ready check never returns); `ready: true` answers INFO
 * as a Redis that has loaded its data, every other command but PING with +OK, and PING never.
 */
async function fakeRedis(ready: boolean): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      if (!ready) return;
      pending += chunk.toString('latin1');
      // commands arrive as arrays of bulk strings: *<n>\r\n($<len>\r\n<arg>\r\n)*
      for (;;) {
        const m = /^\*(\d+)\r\n/.exec(pending);
        if (!m) return;
        let at = m[0].length;
        const args: string[] = [];
        for (let i = 0; i < Number(m[1]); i++) {
          const b = /^\$(\d+)\r\n/.exec(pending.slice(at));
          if (!b || pending.length < at + b[0].length + Number(b[1]) + 2) return;
          at += b[0].length;
          args.push(pending.slice(at, at + Number(b[1])));
          at += Number(b[1]) + 2;
        }
        pending = pending.slice(at);
        const command = args[0]?.toUpperCase();
        if (command === 'PING') continue;
        if (command === 'INFO') {
          const info = '# Server\r\nredis_version:7.2.0\r\nloading:0\r\n';
          socket.write(`$${Buffer.byteLength(info)}\r\n${info}\r\n`);
        } else socket.write('+OK\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('GET /health with a cluster whose Redis does not answer', () => {
  let dir: string;
  let app: INestApplication | undefined;
  let closeServer: (() => Promise<void>) | undefined;
  let redis: PrivateRedis | undefined;

  beforeAll(() => {
    buildDist();
    dir = mkdtempSync(join(tmpdir(), 'mnsim-health-redis-'));
  });
  afterEach(async () => {
    // Bounded, so that the rest is cleaned up whatever a test left: closing an orchestrating api
    // whose Redis was away once hung here (its queues' Workers waited for Redis to close).
    const closing = app?.close();
    if (closing) {
      await within(15_000, closing).catch((err: unknown) => {
        if (!(err instanceof TimedOut)) throw err;
        console.warn('health-redis: app.close() did not finish within 15 s');
      });
    }
    app = undefined;
    await closeServer?.();
    closeServer = undefined;
    await redis?.cleanup();
    redis = undefined;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function start(port: number, orchestrator: 'on' | 'off'): Promise<INestApplication> {
    const config = loadApiConfig({
      MNSIM_SQLITE_PATH: join(dir, `${port}.sqlite`),
      MNSIM_REDIS_URL: `redis://127.0.0.1:${port}`,
      MNSIM_QUEUE_PREFIX: `health-redis-${port}`,
      MNSIM_ORCHESTRATOR: orchestrator,
    });
    app = await createApiApp(config, { logger: false });
    return app;
  }

  /** GET /health until it is 200, for at most 10 s: its last answer */
  async function healthy(a: INestApplication) {
    const deadline = Date.now() + 10_000;
    let res = await request(a.getHttpServer()).get('/health');
    while (res.status !== 200 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      res = await request(a.getHttpServer()).get('/health');
    }
    return res;
  }

  /** GET /health: 503 within 2 s, Redis down with `reason`, the store up, no URL in the answer */
  async function expectRedisDown(a: INestApplication, port: number, reason: RegExp) {
    const started = performance.now();
    const res = await request(a.getHttpServer()).get('/health').timeout(5000);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(res.status, res.text).toBe(503);
    expect(res.body.status).toBe('error');
    expect(res.body.info).toEqual({ store: { status: 'up', dialect: 'sqlite' } });
    expect(Object.keys(res.body.error)).toEqual(['redis']);
    const redis = res.body.error.redis as { status: string; message: string };
    expect(redis.status).toBe('down');
    expect(redis.message).toMatch(/Redis/);
    expect(redis.message).toMatch(reason);
    expect(redis.message).not.toMatch(/\n/);
    expect(res.body.details).toEqual({ ...res.body.info, ...res.body.error });
    expect(res.text).not.toContain(String(port));
    expect(res.text).not.toContain(dir);
  }

  /** GET /metrics: 200 within 2 s, Redis down (mnsim_redis_up 0 or no queue read), runs counted */
  async function expectMetricsWithoutRedis(a: INestApplication, redisUp: 0 | 1) {
    const started = performance.now();
    const res = await request(a.getHttpServer()).get('/metrics').timeout(5000);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(res.status, res.text).toBe(200);
    expect(res.text).toMatch(new RegExp(`^mnsim_redis_up ${redisUp}$`, 'm'));
    expect(res.text).not.toMatch(/^mnsim_queue_workers\{/m);
    expect(res.text).toMatch(/^mnsim_runs\{status="running"\} 0$/m);
  }

  it('nothing listens at the URL: 503 naming Redis, at once', async () => {
    const port = await freePort();
    const a = await start(port, 'off');
    await expectRedisDown(a, port, /no connection to Redis/);
    // /metrics answers too (it waited on the queues' commands for as long as Redis was away)
    await expectMetricsWithoutRedis(a, 0);
    // and again, after the connection has had time to retry
    await new Promise((resolve) => setTimeout(resolve, 300));
    await expectRedisDown(a, port, /no connection to Redis/);
  });

  it("an orchestrating api's Redis is killed: 503 naming Redis; 200 once it is back", async () => {
    redis = await PrivateRedis.start();
    const a = await start(redis.port, 'on');
    // its start does not wait for Redis: the connection may still be on its way
    const up = await healthy(a);
    expect(up.status, up.text).toBe(200);
    expect(up.body.details).toEqual({
      store: { status: 'up', dialect: 'sqlite' },
      redis: { status: 'up' },
    });

    await redis.kill();
    // the connection may not have seen the close yet: then the PING is what fails
    await expectRedisDown(a, redis.port, /no connection to Redis|PING/);

    await redis.start();
    const res = await healthy(a);
    expect(res.status, res.text).toBe(200);
  });

  it('an orchestrating api started while its Redis is away answers, and serves once Redis comes', async () => {
    redis = await PrivateRedis.start();
    await redis.kill();
    const started = performance.now();
    const a = await start(redis.port, 'on');
    // it used to wait in its start for its queues' Workers to connect, and never listened
    expect(performance.now() - started).toBeLessThan(10_000);
    await expectRedisDown(a, redis.port, /no connection to Redis/);
    const runs = await request(a.getHttpServer()).get('/runs').timeout(5000);
    expect(runs.status, runs.text).toBe(200);

    await redis.start();
    const res = await healthy(a);
    expect(res.status, res.text).toBe(200);
    // its queues have their workers: the orchestrator and the task component it serves
    const metrics = await request(a.getHttpServer()).get('/metrics');
    const deadline2 = Date.now() + 10_000;
    let text = metrics.text;
    while (
      !/^mnsim_queue_workers\{queue="orchestrator"\} 1$/m.test(text) &&
      Date.now() < deadline2
    ) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      text = (await request(a.getHttpServer()).get('/metrics')).text;
    }
    expect(text).toMatch(/^mnsim_queue_workers\{queue="orchestrator"\} 1$/m);
    expect(text).toMatch(/^mnsim_queue_workers\{queue="task"\} 1$/m);
  });

  it('an orchestrating api reads its cluster through its one Bus, logs each connection error once, and stops', async () => {
    const port = await freePort();
    const written: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = (chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    };
    try {
      // the worker processes' JSON logger, as `mnsim serve` in the cluster logs
      app = await createApiApp(
        loadApiConfig({
          MNSIM_SQLITE_PATH: join(dir, `${port}.sqlite`),
          MNSIM_REDIS_URL: `redis://127.0.0.1:${port}`,
          MNSIM_QUEUE_PREFIX: `health-redis-${port}`,
        }),
        { logger: workerLogger('api') },
      );
      await expectRedisDown(app, port, /no connection to Redis/);
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      process.stderr.write = write;
    }
    expect(app.get(ClusterBus).bus).toBe(app.get(BusProvider).bus);
    // the Bus's own connection (its served queues' Workers report theirs with the queue's name)
    const errors = written
      .flatMap((chunk) => chunk.split('\n'))
      .filter((line) => line.includes('Redis connection error') && !line.includes('"queue"'));
    expect(errors).toHaveLength(1);

    // and it stops: its queues' Workers waited for Redis to close, for ever
    const closing = app.close();
    app = undefined;
    await expect(within(5000, closing)).resolves.toBeUndefined();
  });

  it('a server takes the connection and never gets ready: 503, no command queued on it', async () => {
    const server = await fakeRedis(false);
    closeServer = server.close;
    const a = await start(server.port, 'off');
    await expectRedisDown(a, server.port, /no connection to Redis \((connect|connecting)\)/);
  });

  it('Redis is ready but PING gets no answer: 503 once the bound has passed', async () => {
    const server = await fakeRedis(true);
    closeServer = server.close;
    const a = await start(server.port, 'off');
    // the connection's ready check (INFO) is answered: wait until /health gets past it
    const deadline = Date.now() + 5000;
    let res = await request(a.getHttpServer()).get('/health');
    while (/no connection/.test(res.text) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      res = await request(a.getHttpServer()).get('/health');
    }
    await expectRedisDown(a, server.port, /did not answer a PING within 1000 ms/);
    // the connection is ready, but the queues' figures do not come: /metrics answers without them
    await expectMetricsWithoutRedis(a, 1);
  });
});
