/**
 * GET /health checks that the store it writes to is really there (issue 15): the SQLite file
 * deleted under a running api used to leave /health at 200 while every write went to the deleted
 * file; now it is 503 with the reason, and so is another file put in its place. The answer is
 * terminus's `{ status, info, error, details }`, the store's check under `store`.
 */
import { copyFileSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApiApp } from '@mnsim/http';

describe('GET /health on a SQLite file', () => {
  let dir: string;
  let path: string;
  let app: INestApplication;
  let http: ReturnType<typeof request>;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mnsim-health-'));
    path = join(dir, 'mnsim.sqlite');
    app = await createApiApp(
      {
        host: '127.0.0.1',
        port: 0,
        token: null,
        bodyLimitBytes: 1024,
        store: { sqlitePath: path },
      },
      { logger: false },
    );
    http = request(app.getHttpServer());
  });

  afterEach(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is 200 while the file is there', async () => {
    const res = await http.get('/health');
    expect(res.status).toBe(200);
    const store = { status: 'up', dialect: 'sqlite' };
    expect(res.body).toEqual({ status: 'ok', info: { store }, error: {}, details: { store } });
  });

  it('is 503 once the file is deleted, though the store still answers', async () => {
    rmSync(path);
    // what the finding saw: the deleted file still answers queries
    expect((await http.get('/runs')).status).toBe(200);
    const res = await http.get('/health');
    expect(res.status).toBe(503);
    const store = {
      status: 'down',
      dialect: 'sqlite',
      message:
        "the store's SQLite database file was deleted or moved since the api opened it: what it writes is lost",
    };
    expect(res.body).toEqual({ status: 'error', info: {}, error: { store }, details: { store } });
  });

  it('is 503 when another file took its path', async () => {
    copyFileSync(path, `${path}.new`);
    renameSync(`${path}.new`, path);
    const res = await http.get('/health');
    expect(res.status).toBe(503);
    expect(res.body.error.store.message).toBe(
      "the store's SQLite database file was replaced by another file since the api opened it: what it writes is lost",
    );
    // and nothing of the server's paths in an answer that needs no token
    expect(res.text).not.toContain(dir);
  });
});
