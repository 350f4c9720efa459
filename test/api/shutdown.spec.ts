/**
 * Stopping `mnsim serve` is bounded (ShutdownGrace): a request in flight that finishes within the
 * grace is answered; a client that never finishes its body has its connection closed at the end of
 * the grace, with one line saying so; a simulation still running then gets as long again before
 * its thread ends. Before, `close()` waited for such a request without bound (a browser test's
 * server once took more than a minute to close).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { type Socket, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoggerService } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiConfig, type RunningApi, serve } from '@mnsim/http';
import { NO_RUN_LIMITS } from '@mnsim/events';
import { hostileScenario } from '../../bench/src/hostile-scenario.js';
import { SimulationPool } from '../../libs/http/src/simulation-pool.js';
import { TimedOut, within } from '../../libs/http/src/within.js';
import { buildDist } from '../distributed/processes.js';

const GRACE_MS = 400;

/** Nest's warnings, kept (the rest dropped) */
class Warnings implements LoggerService {
  readonly lines: string[] = [];
  log(): void {}
  error(message: unknown): void {
    this.lines.push(`error: ${String(message)}`);
  }
  warn(message: unknown): void {
    this.lines.push(String(message));
  }
}

/** A raw connection that has sent `head` and part of a body, and what it has received since. */
async function partialRequest(
  url: string,
  path: string,
  body: string,
  sent: number,
): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(
    `POST ${path} HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, sent)}`,
  );
  return { socket, received: () => received, closed };
}

/** Settles with how long `p` took, or fails past `ms`. */
async function timed(p: Promise<unknown>, ms: number): Promise<number> {
  const started = Date.now();
  try {
    await within(ms, p);
  } catch (err) {
    if (!(err instanceof TimedOut)) throw err;
    throw new Error(`still not settled after ${ms} ms`, { cause: err });
  }
  return Date.now() - started;
}

describe('stopping the API', () => {
  let dir: string;
  let config: ApiConfig;

  beforeAll(() => {
    buildDist();
    dir = mkdtempSync(join(tmpdir(), 'mnsim-shutdown-'));
    config = {
      host: '127.0.0.1',
      port: 0,
      token: null,
      bodyLimitBytes: 1024 * 1024,
      store: { sqlitePath: join(dir, 'mnsim.sqlite') },
      shutdownGraceMs: GRACE_MS,
      // no limit, so that the heavy run below is still running when the API stops
      simulation: { threads: 1, queue: 0, niceness: 0, limits: NO_RUN_LIMITS },
    };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function start(): Promise<{ api: RunningApi; warnings: Warnings }> {
    const warnings = new Warnings();
    const api = await serve(config, () => undefined, { logger: warnings });
    return { api, warnings };
  }

  it('answers a request that finishes within the grace, and closes nothing', async () => {
    const { api, warnings } = await start();
    // refused by its schema, on the request thread: answered at once once it is all there
    const body = JSON.stringify({ scenario: 'oom-reap-arm64', seed: 'seven' });
    const client = await partialRequest(api.url, '/runs', body, 5);
    // the server has the request's head before it is asked to stop
    await new Promise((r) => setTimeout(r, 50));
    const closing = api.close();
    await new Promise((r) => setTimeout(r, 50));
    client.socket.write(body.slice(5));
    await timed(closing, 10_000);
    await client.closed;
    expect(client.received()).toMatch(/^HTTP\/1\.1 400 /);
    expect(warnings.lines).toEqual([]);
  });

  it('closes the connection of a client that never finishes its body at the end of the grace', async () => {
    const { api, warnings } = await start();
    const client = await partialRequest(api.url, '/runs', JSON.stringify({ scenario: 'x' }), 3);
    await new Promise((r) => setTimeout(r, 50));
    const took = await timed(api.close(), 10_000);
    expect(took).toBeGreaterThanOrEqual(GRACE_MS - 20);
    await timed(client.closed, 1000);
    expect(client.received()).toBe('');
    expect(warnings.lines).toEqual([
      `stopping: 1 connection still open after ${GRACE_MS} ms: closing it`,
    ]);
  });

  it('ends a simulation still running after as long again, and stops', async () => {
    const { api, warnings } = await start();
    const pool = api.app.get(SimulationPool);
    const run = fetch(`${api.url}/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ scenario: hostileScenario() }),
    }).then(
      (res) => res.status,
      (err: unknown) => err,
    );
    const deadline = Date.now() + 10_000;
    while (pool.pending === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(pool.pending).toBe(1);
    // without limits this run takes minutes; stopping takes the grace twice
    await timed(api.close(), 10_000);
    // its client saw the connection closed, not an answer
    expect(await run).toBeInstanceOf(Error);
    expect(warnings.lines).toEqual([
      `stopping: 1 connection still open after ${GRACE_MS} ms: closing it`,
      expect.stringMatching(
        new RegExp(
          `^stopping: simulations still running after ${GRACE_MS} ms, their threads ended`,
        ),
      ),
    ]);
  });
});
