/**
 * The HTTP API end to end, through supertest, on SQLite (a temporary file) and on the real Postgres
 * (a schema of this file's own, dropped afterwards): every endpoint, its validation and errors, the
 * bearer token and the body limit.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { openStore, type StoreOptions } from '@mnsim/store';
import { generateScenario, resolveScenario } from '@mnsim/scenarios';
import pg from 'pg';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { type ApiConfig, createApiApp } from '@mnsim/http';
import { exportCommand } from '../../apps/cli/src/commands/export.js';
import { captureOutput } from '../cli-output.js';
import { buildDist } from '../distributed/processes.js';

const PG_URL = process.env.MNSIM_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const TOKEN = 'test-token-0123456789abcdef';
const SITE_394 = 'arch/arm64/kvm/mmu.c:394';
const SIGNATURE = 'BUG: sleeping function called from invalid context in unmap_stage2_range';

/** what POST /runs answers (`mnsim run --json`) */
interface RunAnswer {
  runId: string;
  scenario: string;
  kernel: string;
  arch: string;
  seed: number;
  status: string;
  events: number;
  logHash: string;
  violations: {
    seq: number;
    kind: string;
    site: string;
    comm: string;
    stack: string[];
    text: string;
  }[];
}

interface EventAnswer {
  seq: number;
  type: string;
  causationId: string | null;
  payload: { violation?: { site: string } };
}

interface TestDb {
  options: StoreOptions;
  cleanup(): Promise<void>;
}

const DIALECTS: { dialect: 'sqlite' | 'postgres'; setup: () => TestDb }[] = [
  {
    dialect: 'sqlite',
    setup() {
      const dir = mkdtempSync(join(tmpdir(), 'mnsim-api-'));
      return {
        options: { sqlitePath: join(dir, 'mnsim.sqlite') },
        cleanup: () => Promise.resolve(rmSync(dir, { recursive: true, force: true })),
      };
    },
  },
  {
    dialect: 'postgres',
    setup() {
      const schema = `mnsim_api_test_${randomBytes(6).toString('hex')}`;
      return {
        options: { url: PG_URL, schema },
        async cleanup() {
          const client = new pg.Client({ connectionString: PG_URL });
          await client.connect();
          try {
            await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
          } finally {
            await client.end();
          }
        },
      };
    },
  },
];

const configFor = (store: StoreOptions, token: string | null = null): ApiConfig => ({
  host: '127.0.0.1',
  port: 0,
  token,
  bodyLimitBytes: 1024 * 1024,
  store,
});

/** every error answer: the one shape, a one-line reason, no stack trace */
function expectError(res: request.Response, status: number, reason?: RegExp | string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(Object.keys(res.body).sort()).toEqual(['error', 'message', 'statusCode']);
  expect(res.body.statusCode).toBe(status);
  expect(typeof res.body.message).toBe('string');
  expect(res.body.message).not.toMatch(/\n|\bat .+:\d+:\d+/);
  if (reason !== undefined) expect(res.body.message).toMatch(reason);
}

/** every page of a paged listing, following nextCursor (or nextAfterSeq for events) */
async function allPages(
  http: ReturnType<typeof request>,
  path: string,
  key: 'runs' | 'violations',
): Promise<{ rows: Record<string, unknown>[]; pages: number }> {
  const rows: Record<string, unknown>[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const res = await http.get(
      cursor === null ? path : `${path}${sep}cursor=${encodeURIComponent(cursor)}`,
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    rows.push(...res.body[key]);
    cursor = res.body.nextCursor;
    pages++;
    expect(pages).toBeLessThan(1000);
  } while (cursor !== null);
  return { rows, pages };
}

describe.each(DIALECTS)('HTTP API on $dialect', ({ dialect, setup }) => {
  let db: TestDb;
  let app: INestApplication;
  let http: ReturnType<typeof request>;
  /** POST /runs answers, by name */
  const runs: Record<string, RunAnswer> = {};

  beforeAll(async () => {
    buildDist(); // the simulation threads run the compiled worker
    db = setup();
    app = await createApiApp(configFor(db.options), { logger: false });
    http = request(app.getHttpServer());
    const x86 = resolveScenario('oom-reap-x86').source;
    const posts: [string, object][] = [
      ['arm64', { scenario: 'oom-reap-arm64' }],
      ['arm64-fix', { scenario: 'oom-reap-arm64', kernel: '5.8+fix' }],
      ['x86-builtin', { scenario: 'oom-reap-x86' }],
      ['x86-yaml', { yaml: x86 }],
      ['x86-object', { scenario: parseYaml(x86) as object, seed: 1 }],
      ['userptr', { scenario: 'userptr-eagain-arm64', kernel: '5.8+flags', seed: 7 }],
    ];
    for (const [name, body] of posts) {
      const res = await http.post('/runs').send(body);
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      runs[name] = res.body;
    }
  });

  afterAll(async () => {
    await app?.close();
    await db?.cleanup();
  });

  describe('GET /health', () => {
    it("is 200 while the store answers, in terminus's shape, naming the store", async () => {
      const res = await http.get('/health');
      expect(res.status).toBe(200);
      const store = { status: 'up', dialect };
      expect(res.body).toEqual({ status: 'ok', info: { store }, error: {}, details: { store } });
      expect(res.headers['cache-control']).toBe('no-cache, no-store, must-revalidate');
    });
  });

  describe('POST /runs', () => {
    it('runs a built-in and answers like `mnsim run --json`, violations included', () => {
      const run = runs.arm64;
      expect(Object.keys(run)).toEqual([
        'runId',
        'scenario',
        'kernel',
        'arch',
        'seed',
        'status',
        'events',
        'logHash',
        'violations',
      ]);
      expect(run).toMatchObject({
        scenario: 'oom-reap-arm64',
        kernel: '5.8',
        arch: 'arm64',
        seed: 1,
        status: 'completed',
      });
      expect(run.logHash).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(run.violations).toHaveLength(2);
      for (const v of run.violations) {
        expect(v).toMatchObject({ site: SITE_394, comm: 'oom_reaper', signature: SIGNATURE });
        expect(v.stack[0]).toBe('___might_sleep');
        expect(v.text).toMatch(/^BUG: sleeping function called from invalid context/);
      }
    });

    it('takes kernel and seed overrides', () => {
      expect(runs['arm64-fix']).toMatchObject({ kernel: '5.8+fix', violations: [] });
      expect(runs.userptr).toMatchObject({ kernel: '5.8+flags', seed: 7 });
      // 2 atomic-sleep findings per reaper try, and the range_end each try skips
      const kinds = runs.userptr.violations.map((v) => v.kind);
      expect(kinds.filter((k) => k === 'atomic-sleep')).toHaveLength(20);
      expect(kinds.filter((k) => k === 'notifier-imbalance')).toHaveLength(10);
    });

    it('gives the same run for a built-in name, its YAML text and its object form', () => {
      const hashes = ['x86-builtin', 'x86-yaml', 'x86-object'].map((n) => runs[n].logHash);
      expect(new Set(hashes).size).toBe(1);
      expect(runs['x86-yaml']).toMatchObject({ scenario: 'oom-reap-x86', arch: 'x86' });
    });

    it.each([
      [{}, /^body: give exactly one of scenario .* and yaml$/],
      [{ scenario: 'oom-reap-arm64', yaml: 'x' }, /give exactly one/],
      [
        { scenario: 'no-such-one' },
        /^body\.scenario: no built-in scenario "no-such-one" \(built-ins: .*oom-reap-arm64/,
      ],
      [
        { scenario: '../../etc/passwd' },
        /^body\.scenario: must be the name of a built-in scenario or a scenario object/,
      ],
      [{ scenario: 5 }, /^body\.scenario: must be the name of a built-in/],
      [{ yaml: 'name: x' }, /^body\.yaml: host: required key is missing$/],
      [{ yaml: 'name: [' }, /^body\.yaml: /],
      [{ scenario: { name: 'x', host: { arch: 'sparc' } } }, /^body\.scenario: host\.arch: /],
      [
        { scenario: 'oom-reap-arm64', kernel: '6.0' },
        /^body\.kernel: must be one of 5\.8, 5\.8\+flags, 5\.8\+fix, 5\.8\+pair, 5\.8\+flags\+pair, 5\.8\+fix\+pair \(got "6\.0"\)$/,
      ],
      [
        { scenario: 'oom-reap-arm64', seed: -1 },
        /^body\.seed: must be a non-negative integer \(got -1\)$/,
      ],
      [{ scenario: 'oom-reap-arm64', seed: 1.5 }, /^body\.seed: /],
      [{ scenario: 'oom-reap-arm64', seed: '1' }, /^body\.seed: /],
      [{ scenario: 'oom-reap-arm64', extra: true }, /^unknown field "extra"$/],
    ])('400 for %j', async (body, reason) => {
      expectError(await http.post('/runs').send(body), 400, reason);
    });

    // issue 15, finding 8: zod's record dropped a scenario's `__proto__` key silently (assigning
    // it sets a prototype), where any other unknown key is refused
    it.each([
      ['{"scenario":{"__proto__":{"name":"x"},"name":"oom-reap-x86"}}', 'in body.scenario'],
      ['{"__proto__":{"kernel":"5.8"},"scenario":"oom-reap-arm64"}', ''],
      ['{"scenario":{"name":"x","host":{"arch":"x86","constructor":1}}}', 'in body.scenario.host'],
      [
        '{"scenario":{"name":"x","steps":[{"at":0},{"prototype":{}}]}}',
        'in body.scenario.steps[1]',
      ],
    ])('400 for a body with a prototype key: %s', async (text, owner) => {
      const key = /"(__proto__|constructor|prototype)"/.exec(text)![1];
      expectError(
        await http.post('/runs').set('Content-Type', 'application/json').send(text),
        400,
        `unknown field "${key}"${owner ? ` ${owner}` : ''}`,
      );
    });

    it('400 for a body with a prototype key, however deep', async () => {
      const deep = `${'{"a":'.repeat(20_000)}{"__proto__":1}${'}'.repeat(20_000)}`;
      const res = await http
        .post('/runs')
        .set('Content-Type', 'application/json')
        .send(`{"scenario":${deep}}`);
      expectError(res, 400, /^unknown field "__proto__" in body\.scenario\.a\.a\./);
    });

    it('400 for a body that is not JSON, or not an object', async () => {
      expectError(
        await http.post('/runs').set('Content-Type', 'application/json').send('{"scenario":'),
        400,
        'request body is not valid JSON',
      );
      expectError(await http.post('/runs').send([1, 2]), 400, /^body: /);
      expectError(await http.post('/runs'), 400, /^body: /);
    });

    it('413 for a body over the limit, before reading it all', async () => {
      const res = await http.post('/runs').send({ yaml: 'x'.repeat(1024 * 1024 + 1) });
      expectError(res, 413, 'request body larger than 1048576 bytes');
    });
  });

  describe('GET /runs', () => {
    it('lists the runs newest first, without their sources', async () => {
      const res = await http.get('/runs');
      expect(res.status).toBe(200);
      expect(res.body.nextCursor).toBeNull();
      const ids = res.body.runs.map((r: { runId: string }) => r.runId);
      expect(new Set(ids)).toEqual(new Set(Object.values(runs).map((r) => r.runId)));
      const created = res.body.runs.map((r: { createdAt: string }) => r.createdAt);
      expect([...created].sort().reverse()).toEqual(created);
      expect(res.body.runs[0]).not.toHaveProperty('source');
      expect(res.body.runs[0]).toMatchObject({ status: 'completed', failureReason: null });
    });

    it('filters by scenario, kernel, arch and status', async () => {
      const of = async (q: string) =>
        (await http.get(`/runs?${q}`)).body.runs.map((r: { runId: string }) => r.runId).sort();
      const ids = (...names: string[]) => names.map((n) => runs[n].runId).sort();
      expect(await of('arch=x86')).toEqual(ids('x86-builtin', 'x86-yaml', 'x86-object'));
      expect(await of('kernel=5.8%2Bfix')).toEqual(ids('arm64-fix'));
      expect(await of('scenario=oom-reap-arm64&kernel=5.8')).toEqual(ids('arm64'));
      expect(await of('status=completed&arch=arm64')).toEqual(ids('arm64', 'arm64-fix', 'userptr'));
      expect(await of('status=failed')).toEqual([]);
    });

    it('pages with a cursor: every run exactly once', async () => {
      const { rows, pages } = await allPages(http, '/runs?limit=2', 'runs');
      expect(pages).toBe(3);
      const ids = rows.map((r) => r.runId);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.length).toBe(Object.keys(runs).length);
    });
  });

  describe('GET /runs/:id', () => {
    it('answers a run by its id and by a unique prefix, with its scenario source', async () => {
      const { runId } = runs.arm64;
      const full = await http.get(`/runs/${runId}`);
      expect(full.status).toBe(200);
      expect(full.body).toMatchObject({
        runId,
        scenario: 'oom-reap-arm64',
        kernel: '5.8',
        arch: 'arm64',
        status: 'completed',
        events: runs.arm64.events,
        logHash: runs.arm64.logHash,
        violations: 2,
      });
      expect(full.body.source).toContain('name: oom-reap-arm64');
      const prefix = await http.get(`/runs/${runId.slice(0, 13)}`);
      expect(prefix.body).toEqual(full.body);
    });

    it('404 for no match, 400 for an ambiguous prefix or a malformed id', async () => {
      expectError(
        await http.get('/runs/ffffffff-no-such-run'),
        404,
        "no run matches 'ffffffff-no-such-run'",
      );
      const store = await openStore(db.options);
      try {
        for (const runId of ['ambig-1', 'ambig-2']) {
          await store.createRun({ runId, scenario: 'x', kernel: '5.8', arch: 'x86', seed: 1 });
        }
      } finally {
        await store.close();
      }
      expectError(
        await http.get('/runs/ambig'),
        400,
        /^run id prefix 'ambig' is ambiguous: it matches ambig-1, ambig-2/,
      );
      expect((await http.get('/runs/ambig-2')).body).toMatchObject({
        status: 'running',
        events: 0,
      });
      expectError(await http.get('/runs/a%20b'), 400, /^path parameter id: must be a run id/);
    });

    // issue 15, finding 3: the API took ids with ':' and up to 128 characters, which the bus
    // and an imported log do not; one form everywhere now (libs/events RUN_ID_PATTERN)
    it.each(['a:b', 'x'.repeat(101), '-rf', '%1b%5b2J'])(
      '400 for %j, which no run can have as its id',
      async (id) => {
        expectError(
          await http.get(`/runs/${id}`),
          400,
          'path parameter id: must be a run id or a prefix of one (1 to 100 letters, digits, ".", "_" or "-", the first a letter or a digit)',
        );
        expectError(await http.get(`/violations?run=${id}`), 400, /^query parameter run: /);
      },
    );
  });

  describe('GET /runs/:id/events', () => {
    it("pages through the run's log in seq order, payloads parsed", async () => {
      const { runId, events } = runs.arm64;
      const seen: EventAnswer[] = [];
      let path = `/runs/${runId.slice(0, 8)}/events?limit=10`;
      for (;;) {
        const res = await http.get(path);
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        expect(res.body.runId).toBe(runId);
        expect(res.body.events.length).toBeLessThanOrEqual(10);
        seen.push(...res.body.events);
        if (res.body.nextAfterSeq === null) break;
        path = `/runs/${runId}/events?limit=10&afterSeq=${res.body.nextAfterSeq}`;
      }
      expect(seen.map((e) => e.seq)).toEqual([...Array(events).keys()]);
      expect(seen[0]).toMatchObject({ seq: 0, type: 'run.start', causationId: null });
      expect(typeof seen[0].payload).toBe('object');
      const violations = seen.filter((e) => e.type === 'violation');
      expect(violations.map((e) => e.seq)).toEqual(
        runs.arm64.violations.map((v: { seq: number }) => v.seq),
      );
      expect(violations[0].payload.violation?.site).toBe(SITE_394);
    });

    it('defaults to 100 events a page', async () => {
      const res = await http.get(`/runs/${runs.userptr.runId}/events`);
      expect(res.body.events).toHaveLength(Math.min(100, runs.userptr.events));
    });

    it('404 for an unknown run', async () => {
      expectError(await http.get('/runs/nope/events'), 404, "no run matches 'nope'");
    });
  });

  describe('GET /runs/:id/kernel-log', () => {
    it('is the kernel log `mnsim run` prints, each line with the seq of the event that printed it', async () => {
      const { runId, violations, events } = runs.arm64;
      const res = await http.get(`/runs/${runId.slice(0, 8)}/kernel-log`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.runId).toBe(runId);
      expect(res.body.hz).toBe(250);
      const lines: { seq: number; jiffies: number; level: number; text: string; line: string }[] =
        res.body.lines;
      // in log order, each printed by an event of the run
      const seqs = lines.map((l) => l.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(seqs.every((s) => s >= 0 && s < events)).toBe(true);
      for (const l of lines) {
        expect(l.line).toBe(`[${(l.jiffies / 250).toFixed(6).padStart(12)}] ${l.text}`);
      }
      // the first violation's splat, printed by its violation event; the second was rate-limited
      const [printed, limited] = violations;
      const splat = lines.filter((l) => l.seq === printed.seq);
      expect(splat.map((l) => l.text)).toEqual(printed.text.split('\n'));
      expect(splat.every((l) => l.level === 3 && l.jiffies === 10)).toBe(true);
      expect(lines.filter((l) => l.seq === limited.seq)).toEqual([]);
      // what the components printed: the OOM report before the splat, the reap after it
      expect(
        lines.findIndex((l) => l.text.startsWith('Out of memory: Killed process 1200')),
      ).toBeLessThan(lines.indexOf(splat[0]));
      expect(lines.at(-1)?.text).toMatch(/^oom_reaper: reaped process 1200 \(qemu-system-aar\)/);
    });

    it('has no splat for a run without violations; 404 for an unknown run', async () => {
      const res = await http.get(`/runs/${runs['x86-builtin'].runId}/kernel-log`);
      expect(res.status).toBe(200);
      expect(res.body.lines.some((l: { text: string }) => l.text.startsWith('BUG:'))).toBe(false);
      expectError(await http.get('/runs/nope/kernel-log'), 404, "no run matches 'nope'");
    });
  });

  describe('GET /runs/:id/log', () => {
    /** the log, its body as bytes whatever its type (superagent parses only the types it knows) */
    const getLog = (path: string, encoding = 'identity') =>
      http.get(path).set('Accept-Encoding', encoding).responseType('blob');
    const text = (res: request.Response): string => (res.body as Buffer).toString('utf8');
    const exported = async (runId: string): Promise<string> => {
      const r = await captureOutput(() =>
        exportCommand(runId, {}, { store: db.options, redisUrl: null }),
      );
      expect(r.code, r.err).toBe(0);
      return r.out;
    };

    /**
     * A copy of the userptr run's log, completed under `logHash`, as `runId`; returns its stored
     * events (the damage the tests make is theirs to add).
     */
    const copyOfUserptr = async (runId: string, logHash: string) => {
      const source = runs.userptr;
      const store = await openStore(db.options);
      const logged = [];
      try {
        await store.createRun({
          runId,
          scenario: source.scenario,
          kernel: source.kernel,
          arch: source.arch,
          seed: source.seed,
        });
        for await (const e of store.iterateLog(source.runId)) logged.push(e);
        await store.appendEvents(
          runId,
          logged.map((e) => ({ event: { ...e, runId }, lines: e.lines })),
          [],
        );
        await store.finishRun(runId, {
          status: 'completed',
          events: source.events,
          logHash,
          violations: 0,
        });
      } finally {
        await store.close();
      }
      return logged;
    };

    it('is what `mnsim export` writes for the run, byte for byte, as JSON Lines', async () => {
      for (const { runId, events, logHash } of [runs.arm64, runs.userptr]) {
        const res = await getLog(`/runs/${runId.slice(0, 8)}/log`);
        expect(res.status).toBe(200);
        expect(res.headers['content-type']).toBe('application/x-ndjson');
        expect(res.headers['content-encoding']).toBeUndefined();
        // streamed: no length known up front
        expect(res.headers['content-length']).toBeUndefined();
        const body = text(res);
        expect(body).toBe(await exported(runId));
        expect(JSON.parse(body.slice(0, body.indexOf('\n')))).toMatchObject({
          format: 'mnsim-log',
          version: 2,
          runId,
          events,
          logHash,
        });
      }
    });

    it('is gzipped for a client that takes it', async () => {
      const { runId } = runs.userptr;
      const gz = await getLog(`/runs/${runId}/log`, 'gzip');
      expect(gz.status).toBe(200);
      expect(gz.headers['content-encoding']).toBe('gzip');
      expect(text(gz)).toBe(await exported(runId));
    });

    it('404 for an unknown run, 400 for an ambiguous prefix, 409 for a run that has not completed', async () => {
      expectError(await http.get('/runs/nope/log'), 404, "no run matches 'nope'");
      const store = await openStore(db.options);
      try {
        for (const runId of ['log-running', 'log-failed']) {
          await store.createRun({ runId, scenario: 'x', kernel: '5.8', arch: 'x86', seed: 1 });
        }
        await store.finishRun('log-failed', {
          status: 'failed',
          events: 0,
          logHash: null,
          violations: 0,
          failureReason: 'stopped',
        });
      } finally {
        await store.close();
      }
      expectError(await http.get('/runs/log-/log'), 400, /^run id prefix 'log-' is ambiguous/);
      expectError(
        await http.get('/runs/log-running/log'),
        409,
        'run log-running is running: only completed runs have a log to export',
      );
      expectError(
        await http.get('/runs/log-failed/log'),
        409,
        'run log-failed is failed (stopped): only completed runs have a log to export',
      );
      // the refusal is JSON, whatever encoding the log would have had
      const refused = await http.get('/runs/log-running/log').set('Accept-Encoding', 'br');
      expect(refused.status).toBe(409);
      expect(refused.headers['content-type']).toMatch(/^application\/json/);
      expect(refused.body.message).toMatch(/only completed runs have a log to export$/);
    });

    it('a log answered whole is kept: answered again with its length, and 304 for its ETag', async () => {
      const { runId } = runs.arm64;
      const first = await getLog(`/runs/${runId}/log`, 'br');
      expect(first.status).toBe(200);
      expect(first.headers['content-encoding']).toBe('br');
      expect(first.headers.vary).toBe('Accept-Encoding');
      const etag = first.headers.etag;
      expect(etag).toBe(`"${runs.arm64.logHash.replace('sha256:', '')}.br"`);
      const again = await getLog(`/runs/${runId.slice(0, 8)}/log`, 'br');
      expect(again.status).toBe(200);
      expect(text(again)).toBe(text(first));
      expect(text(again)).toBe(await exported(runId));
      expect(again.headers.etag).toBe(etag);
      // supertest decompresses; the length is the compressed answer's, known up front this time
      expect(Number(again.headers['content-length'])).toBeGreaterThan(0);
      expect(Number(again.headers['content-length'])).toBeLessThan(text(first).length);

      const unchanged = await getLog(`/runs/${runId}/log`, 'br').set('If-None-Match', etag);
      expect(unchanged.status).toBe(304);
      expect(unchanged.headers.etag).toBe(etag);
      // another encoding is another answer, with its own ETag
      const gzipped = await getLog(`/runs/${runId}/log`, 'gzip').set('If-None-Match', etag);
      expect(gzipped.status).toBe(200);
      expect(gzipped.headers.etag).not.toBe(etag);
    });

    it('what is kept is what was checked: a store damaged afterwards is read anew, and fails', async () => {
      // a copy of a run, answered whole once (kept), then given one more event than it says
      const logged = await copyOfUserptr('log-kept', runs.userptr.logHash);
      const whole = await getLog('/runs/log-kept/log', 'gzip');
      expect(whole.status).toBe(200);
      const damaging = await openStore(db.options);
      try {
        const last = logged[logged.length - 1];
        await damaging.appendEvents(
          'log-kept',
          [
            {
              // its run.end once more, one seq later: a line the log's count does not cover
              event: { ...last, runId: 'log-kept', seq: last.seq + 1 },
              lines: last.lines.slice(-1),
            },
          ],
          [],
        );
      } finally {
        await damaging.close();
      }
      // the encoding answered before is kept: the same checked bytes, the store not read again
      const kept = await getLog('/runs/log-kept/log', 'gzip');
      expect(kept.status).toBe(200);
      expect(text(kept)).toBe(text(whole));
      // another one reads the store, finds it damaged, and ends the transfer unfinished
      await expect(getLog('/runs/log-kept/log', 'br')).rejects.toThrow(/^aborted$/);
    });

    it('a log found damaged while it streams fails the transfer: never a whole answer', async () => {
      // the lines of a run under another run's logHash: the check after the last line fails
      await copyOfUserptr('log-damaged', runs.arm64.logHash);
      // "aborted": the answer had begun (its status line came), then the connection closed
      // before its end; not "socket hang up", which is a connection closed before any answer
      for (const encoding of ['identity', 'gzip', 'br']) {
        await expect(getLog('/runs/log-damaged/log', encoding)).rejects.toThrow(/^aborted$/);
      }
    });
  });

  describe('GET /violations', () => {
    const all = (): { runId: string; seq: number }[] =>
      Object.values(runs).flatMap((r) =>
        r.violations.map((v: { seq: number }) => ({ runId: r.runId, seq: v.seq })),
      );
    const keys = (rows: Record<string, unknown>[]) =>
      rows.map((v) => `${String(v.runId)}#${String(v.seq)}`);

    it('answers every violation, newest first, as the CLI prints them', async () => {
      const res = await http.get('/violations?limit=1000');
      expect(res.status).toBe(200);
      expect(res.body.nextCursor).toBeNull();
      expect(new Set(keys(res.body.violations))).toEqual(new Set(keys(all())));
      const times = res.body.violations.map((v: { recordedAt: string }) => v.recordedAt);
      expect([...times].sort().reverse()).toEqual(times);
      const arm64 = res.body.violations.find(
        (v: { runId: string }) => v.runId === runs.arm64.runId,
      );
      expect(arm64).toMatchObject({
        site: SITE_394,
        scenario: 'oom-reap-arm64',
        kernel: '5.8',
        arch: 'arm64',
        comm: 'oom_reaper',
      });
    });

    it('filters: kind, arch and kernel, scenario, run prefix, comm, since', async () => {
      const count = async (q: string) => {
        const res = await http.get(`/violations?limit=1000&${q}`);
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        return res.body.violations.length as number;
      };
      expect(await count('arch=arm64&kernel=5.8')).toBe(2);
      expect(await count('arch=arm64&kernel=5.8%2Bflags')).toBe(30);
      expect(await count('arch=x86')).toBe(0);
      expect(await count('scenario=userptr-eagain-arm64')).toBe(30);
      expect(await count('kind=notifier-imbalance')).toBe(10);
      expect(await count('kind=atomic-sleep')).toBe(22);
      expect(await count('kind=guest-livelock')).toBe(0);
      expectError(
        await http.get('/violations?kind=bug'),
        400,
        /^query parameter kind: must be one of atomic-sleep, notifier-imbalance, guest-livelock/,
      );
      expect(await count(`run=${runs.arm64.runId.slice(0, 10)}`)).toBe(2);
      expect(await count('comm=oom_reaper')).toBe(32);
      expect(await count('comm=stress-ng')).toBe(0);
      expect(await count('since=1h')).toBe(32);
      expect(await count('since=2020-01-01')).toBe(32);
      expect(await count('since=2999-01-01T00:00Z')).toBe(0);
      // issue 15: nine digits of weeks reach back before 1970, everything; it was a 400 that
      // said "invalid timestamp 'Invalid Date'"
      expect(await count('since=999999999w')).toBe(32);
      expectError(await http.get('/violations?run=nope'), 404, "no run matches 'nope'");
    });

    it('pages with a cursor: every violation exactly once', async () => {
      for (const limit of [1, 3, 7]) {
        const { rows, pages } = await allPages(http, `/violations?limit=${limit}`, 'violations');
        expect(pages).toBe(Math.ceil(32 / limit));
        expect(keys(rows)).toHaveLength(32);
        expect(new Set(keys(rows))).toEqual(new Set(keys(all())));
      }
      const filtered = await allPages(
        http,
        '/violations?limit=4&arch=arm64&kernel=5.8%2Bflags',
        'violations',
      );
      expect(new Set(keys(filtered.rows)).size).toBe(30);
    });
  });

  describe('GET /signatures', () => {
    it('groups the violations by signature, like --group-by signature', async () => {
      const res = await http.get('/signatures');
      expect(res.status).toBe(200);
      const group = res.body.signatures.find(
        (g: { signature: string }) => g.signature === SIGNATURE,
      );
      expect(group).toMatchObject({
        count: 22,
        runs: 2,
        kernels: ['5.8', '5.8+flags'],
        arches: ['arm64'],
      });
      expect(Date.parse(group.firstSeen)).toBeLessThanOrEqual(Date.parse(group.lastSeen));
    });

    it('takes the same filters', async () => {
      const one = await http.get(`/signatures?run=${runs.arm64.runId}&since=7d`);
      expect(one.body.signatures).toEqual([
        expect.objectContaining({
          signature: SIGNATURE,
          count: 2,
          runs: 1,
          kernels: ['5.8'],
          arches: ['arm64'],
        }),
      ]);
      expect((await http.get('/signatures?arch=x86')).body).toEqual({ signatures: [] });
      expectError(await http.get('/signatures?limit=5'), 400, 'unknown query parameter "limit"');
    });

    it('the fuzz campaigns: runs by seed, and each filter narrowed to one campaign', async () => {
      for (const i of [0, 1]) {
        const res = await http.post('/runs').send({ yaml: generateScenario(3, i).yaml });
        expect(res.status, JSON.stringify(res.body)).toBe(201);
      }
      const list = await http.get('/campaigns');
      expect(list.status).toBe(200);
      expect(list.body.campaigns).toEqual([
        expect.objectContaining({ seed: 3, runs: 2, completed: 2, failed: 0, running: 0 }),
      ]);
      const runsOf = await http.get('/runs?campaign=3');
      expect(runsOf.body.runs.map((r: { scenario: string }) => r.scenario).sort()).toEqual([
        'fuzz-3-0',
        'fuzz-3-1',
      ]);
      const matrix = await http.get('/signatures/matrix?campaign=3');
      expect(matrix.status).toBe(200);
      const total = matrix.body.cells.reduce((n: number, c: { count: number }) => n + c.count, 0);
      expect(total).toBe(list.body.campaigns[0].violations);
      expectError(await http.get('/runs?campaign=-1'), 400, /campaign/);
    });

    it('the matrix of where a signature occurs; its violations and runs by signature', async () => {
      const matrix = await http.get('/signatures/matrix?arch=arm64');
      expect(matrix.status).toBe(200);
      const cells = matrix.body.cells.filter(
        (c: { signature: string }) => c.signature === SIGNATURE,
      );
      // the group above (22 in 2 runs), cell by cell
      expect(cells.map((c: { kernel: string; arch: string }) => [c.kernel, c.arch])).toEqual([
        ['5.8', 'arm64'],
        ['5.8+flags', 'arm64'],
      ]);
      expect(cells.map((c: { runs: number }) => c.runs)).toEqual([1, 1]);
      expect(cells.reduce((n: number, c: { count: number }) => n + c.count, 0)).toBe(22);
      const q = `signature=${encodeURIComponent(SIGNATURE)}`;
      const violations = await http.get(`/violations?${q}&limit=1000`);
      expect(violations.body.violations).toHaveLength(22);
      const listed = await http.get(`/runs?${q}`);
      expect(listed.body.runs.map((r: { runId: string }) => r.runId).sort()).toEqual(
        [runs.arm64.runId, runs.userptr.runId].sort(),
      );
      expect((await http.get('/runs?signature=nothing%20like%20it')).body.runs).toEqual([]);
    });
  });

  describe('POST /runs/:id/replay', () => {
    it('verify mode: the recorded run replays to the same log', async () => {
      const { runId, logHash } = runs.arm64;
      for (const send of [{}, undefined]) {
        const req = http.post(`/runs/${runId.slice(0, 8)}/replay`);
        const res = await (send === undefined ? req : req.send(send));
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        expect(res.body).toMatchObject({
          runId,
          kernel: '5.8',
          matches: true,
          logHash,
          expectedLogHash: logHash,
          firstDivergence: null,
          violationsDiff: { added: [], removed: [] },
        });
        expect(res.body.violations).toEqual(runs.arm64.violations);
      }
    });

    it('counterfactual: on 5.8+fix every violation is removed, on 5.8+flags nothing changes', async () => {
      const { runId } = runs.arm64;
      const fix = await http.post(`/runs/${runId}/replay`).send({ kernel: '5.8+fix' });
      expect(fix.status, JSON.stringify(fix.body)).toBe(200);
      expect(fix.body.kernel).toBe('5.8+fix');
      expect(fix.body.violations).toEqual([]);
      expect(fix.body.violationsDiff.added).toEqual([]);
      expect(fix.body.violationsDiff.removed).toEqual(runs.arm64.violations);
      const flags = await http.post(`/runs/${runId}/replay`).send({ kernel: '5.8+flags' });
      expect(flags.status).toBe(200);
      expect(flags.body.violationsDiff).toEqual({ added: [], removed: [] });
      expect(flags.body.violations).toHaveLength(2);
    });

    it("with events: true, the re-executed run's events as GET /runs/:id/events gives them", async () => {
      const { runId } = runs.arm64;
      const plain = await http.post(`/runs/${runId}/replay`).send({ kernel: '5.8+fix' });
      expect(plain.body).not.toHaveProperty('events');
      expect(plain.body).not.toHaveProperty('eventsTruncated');

      // verify mode: the same log, event for event
      const same = await http.post(`/runs/${runId}/replay`).send({ events: true });
      expect(same.status, JSON.stringify(same.body)).toBe(200);
      expect(same.body.eventsTruncated).toBe(false);
      const recorded = await http.get(`/runs/${runId}/events?limit=1000`);
      expect(same.body.events).toEqual(
        recorded.body.events.map(({ recordedAt: _, ...e }: { recordedAt: string }) => e),
      );

      // counterfactual: the other variant's run, its findings gone, the rest of the report as without
      const fix = await http
        .post(`/runs/${runId}/replay`)
        .send({ kernel: '5.8+fix', events: true });
      expect(fix.status, JSON.stringify(fix.body)).toBe(200);
      const { events: replayed, eventsTruncated, ...report } = fix.body;
      expect(report).toEqual(plain.body);
      expect(eventsTruncated).toBe(false);
      // the same OOM run on 5.8+fix as the one recorded on it
      const fixRun = await http.get(`/runs/${runs['arm64-fix'].runId}/events?limit=1000`);
      expect(replayed).toEqual(
        fixRun.body.events.map(({ recordedAt: _, ...e }: { recordedAt: string }) => e),
      );
      expect(replayed[0]).toMatchObject({ type: 'run.start', payload: { kernel: '5.8+fix' } });
      expect(replayed.filter((e: EventAnswer) => e.type === 'violation')).toEqual([]);

      // on another arch
      const x86 = await http.post(`/runs/${runId}/replay`).send({ arch: 'x86', events: true });
      expect(x86.status, JSON.stringify(x86.body)).toBe(200);
      expect(x86.body.events[0].payload.arch).toBe('x86');

      expectError(
        await http.post(`/runs/${runId}/replay`).send({ events: 'yes' }),
        400,
        /^body\.events: must be true or false/,
      );
    });

    it('404 for no run, 400 for a bad body, 409 for a run that has not completed', async () => {
      expectError(await http.post('/runs/nope/replay').send({}), 404, "no run matches 'nope'");
      expectError(
        await http.post(`/runs/${runs.arm64.runId}/replay`).send({ kernel: '4.19' }),
        400,
        /^body\.kernel: must be one of/,
      );
      expectError(
        await http.post(`/runs/${runs.arm64.runId}/replay`).send({ seed: 2 }),
        400,
        'unknown field "seed"',
      );
      const store = await openStore(db.options);
      try {
        await store.createRun({
          runId: 'unfinished',
          scenario: 'x',
          kernel: '5.8',
          arch: 'x86',
          seed: 1,
        });
      } finally {
        await store.close();
      }
      expectError(
        await http.post('/runs/unfinished/replay').send({}),
        409,
        'run unfinished is running: only completed runs can be replayed',
      );
    });
  });

  describe('bad query parameters: 400 naming the parameter', () => {
    const cases: [string, string, RegExp][] = [];
    for (const path of ['/runs', '/violations']) {
      cases.push(
        [path, 'limit=0', /^query parameter limit: must be an integer from 1 to 1000 \(got "0"\)$/],
        [
          path,
          'limit=abc',
          /^query parameter limit: must be an integer from 1 to 1000 \(got "abc"\)$/,
        ],
        [path, 'limit=1001', /^query parameter limit: must be an integer/],
        [path, 'limit=1.5', /^query parameter limit: must be an integer/],
        [path, 'limit=', /^query parameter limit: must be an integer/],
        [
          path,
          'arch=sparc',
          /^query parameter arch: must be one of arm64, x86, .* \(got "sparc"\)$/,
        ],
        [path, 'kernel=6.0', /^query parameter kernel: must be one of 5\.8, /],
        [path, 'arch=arm64&arch=x86', /^query parameter arch: must be given at most once$/],
        [path, 'kernal=5.8', /^unknown query parameter "kernal"$/],
        [path, 'cursor=not%20a%20cursor', /^query parameter cursor: must be a nextCursor/],
        [path, 'cursor=abc', /cursor/],
        [
          path,
          `cursor=${Buffer.from(JSON.stringify([1, 2, 3, 4])).toString('base64url')}`,
          /cursor/,
        ],
      );
    }
    for (const path of ['/violations', '/signatures']) {
      cases.push(
        [
          path,
          'since=yesterday',
          /^query parameter since: must be an ISO 8601 date or instant .* \(got "yesterday"\)$/,
        ],
        [path, 'since=12', /^query parameter since: /],
        [path, 'since=2026-13-45', /^query parameter since: /],
        [path, 'comm=', /^query parameter comm: must not be empty/],
        [path, `comm=${'x'.repeat(65)}`, /^query parameter comm: must be at most 64 characters/],
        [path, 'run=a%20b', /^query parameter run: must be a run id/],
      );
    }
    cases.push(
      [
        '/runs',
        'status=done',
        /^query parameter status: must be one of running, completed, failed/,
      ],
      ['/runs/x/events', 'afterSeq=-1', /^query parameter afterSeq: must be an integer from 0/],
      ['/runs/x/events', 'limit=0', /^query parameter limit: /],
      ['/runs/x/events', 'cursor=abc', /^unknown query parameter "cursor"$/],
      // routes that take no query refuse one too
      ['/runs/x', 'limit=1', /^unknown query parameter "limit"$/],
      ['/runs/x/log', 'format=perfetto', /^unknown query parameter "format"$/],
      ['/runs/x/kernel-log', 'since=1h', /^unknown query parameter "since"$/],
      ['/campaigns', 'seed=1', /^unknown query parameter "seed"$/],
    );
    it.each(cases)('%s?%s', async (path, query, reason) => {
      expectError(await http.get(`${path}?${query}`), 400, reason);
    });
  });

  it('a forged cursor of the right shape is never a 500', async () => {
    // types right, a timestamp that is not one: Postgres refuses it (400); SQLite compares text
    for (const [path, key] of [
      ['/runs', ['garbage', 'x']],
      ['/violations', ['garbage', 'x', 1]],
    ] as const) {
      const res = await http.get(
        `${path}?cursor=${Buffer.from(JSON.stringify(key)).toString('base64url')}`,
      );
      if (dialect === 'postgres') expectError(res, 400, /^query parameter cursor: /);
      else expect(res.status).toBe(200);
    }
  });

  describe('anything else', () => {
    it('404 JSON for unknown routes and methods', async () => {
      expectError(await http.get('/nope'), 404, 'Cannot GET /nope');
      expectError(await http.delete('/runs'), 404, 'Cannot DELETE /runs');
      expectError(await http.post('/violations').send({}), 404);
    });

    it('serves the OpenAPI document at /docs-json and the UI at /docs', async () => {
      const doc = await http.get('/docs-json');
      expect(doc.status).toBe(200);
      expect(doc.body.openapi).toMatch(/^3\./);
      expect(Object.keys(doc.body.paths).sort()).toEqual([
        '/campaigns',
        '/health',
        '/metrics',
        '/runs',
        '/runs/{id}',
        '/runs/{id}/events',
        '/runs/{id}/kernel-log',
        '/runs/{id}/log',
        '/runs/{id}/replay',
        '/signatures',
        '/signatures/matrix',
        '/violations',
      ]);
      const params = doc.body.paths['/violations'].get.parameters.map(
        (p: { name: string }) => p.name,
      );
      expect(params.sort()).toEqual([
        'arch',
        'campaign',
        'comm',
        'cursor',
        'kernel',
        'kind',
        'limit',
        'origin',
        'run',
        'scenario',
        'signature',
        'since',
      ]);
      const ui = await http.get('/docs');
      expect(ui.status).toBe(200);
      expect(ui.text).toContain('swagger-ui');
    });

    it('serves the dashboard under /ui, and / goes there', async () => {
      const root = await http.get('/');
      expect([root.status, root.headers.location]).toEqual([302, '/ui/']);
      for (const path of ['/ui', '/ui/', '/ui/runs/some-run', '/ui/signatures?kind=atomic-sleep']) {
        const res = await http.get(path);
        expect(res.status, path).toBe(200);
        expect(res.text).toContain('<div id="app">');
      }
      const [script] = /\/ui\/assets\/[\w.-]+\.js/.exec((await http.get('/ui')).text) ?? [];
      expect(script).toBeDefined();
      const asset = await http.get(script ?? '');
      expect(asset.status).toBe(200);
      expect(asset.headers['cache-control']).toContain('immutable');
      expect((await http.get('/ui/assets/no-such-file.js')).status).toBe(404);
    });

    it('gzips what it answers to a client that takes it, and only then', async () => {
      const path = `/runs/${runs.arm64.runId}/events?limit=1000`;
      const gz = await http.get(path).set('Accept-Encoding', 'gzip');
      expect(gz.status).toBe(200);
      expect(gz.headers['content-encoding']).toBe('gzip');
      expect(gz.body.events).toHaveLength(runs.arm64.events);
      const plain = await http.get(path).set('Accept-Encoding', 'identity');
      expect(plain.headers['content-encoding']).toBeUndefined();
      expect(plain.body).toEqual(gz.body);
    });

    it('does not say what it runs on', async () => {
      expect((await http.get('/health')).headers['x-powered-by']).toBeUndefined();
    });
  });

  describe('with MNSIM_API_TOKEN', () => {
    let secured: INestApplication;
    let shttp: ReturnType<typeof request>;

    beforeAll(async () => {
      secured = await createApiApp(configFor(db.options, TOKEN), { logger: false });
      shttp = request(secured.getHttpServer());
    });
    afterAll(async () => {
      await secured?.close();
    });

    it.each([
      ['get', '/runs'],
      ['get', `/runs/${'x'}`],
      ['get', '/runs/x/log'],
      ['get', '/violations?arch=arm64'],
      ['get', '/signatures'],
      ['post', '/runs'],
      ['get', '/docs-json'],
      ['get', '/docs'],
      ['get', '/no-such-route'],
    ] as const)('401 without a token: %s %s', async (method, path) => {
      const res = await shttp[method](path);
      expectError(res, 401, /needs an Authorization: Bearer <token> header/);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="mnsim"');
    });

    it.each([
      `Bearer ${TOKEN.slice(0, -1)}x`,
      `Bearer ${TOKEN}x`,
      'Bearer x',
      `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}`,
      TOKEN,
      `Bearer ${TOKEN} extra`,
    ])('401 with a wrong Authorization: %s', async (header) => {
      expectError(
        await shttp.get('/runs').set('Authorization', header),
        401,
        'invalid bearer token',
      );
    });

    it('200 with the token; the health check needs none', async () => {
      const ok = await shttp.get('/runs?limit=1').set('Authorization', `Bearer ${TOKEN}`);
      expect(ok.status).toBe(200);
      expect(ok.body.runs).toHaveLength(1);
      expect((await shttp.get('/health')).status).toBe(200);
      const docs = await shttp.get('/docs-json').set('Authorization', `bearer ${TOKEN}`);
      expect(docs.status).toBe(200);
    });

    it('the dashboard: a sign-in form without a session, its pages with one', async () => {
      // / goes to the dashboard, which says nothing without the token
      const root = await shttp.get('/');
      expect([root.status, root.headers.location]).toEqual([302, '/ui/']);
      const page = await shttp.get('/ui/runs/abc?x=1');
      expect(page.status).toBe(401);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      expect(page.text).toContain('<form method="post" action="/ui/session">');
      expect(page.text).toContain('value="/ui/runs/abc?x=1"');

      const wrong = await shttp.post('/ui/session').type('form').send({ token: 'nope' });
      expect(wrong.status).toBe(401);
      expect(wrong.headers['set-cookie']).toBeUndefined();
      expect(wrong.text).toContain("That token is not this server's.");

      const signIn = await shttp
        .post('/ui/session')
        .type('form')
        .send({ token: TOKEN, next: '/ui/runs/abc' });
      expect([signIn.status, signIn.headers.location]).toEqual([303, '/ui/runs/abc']);
      const [cookie] = signIn.headers['set-cookie'] as unknown as string[];
      // a session cookie (no expiry), out of reach of scripts and of other sites, not the token
      expect(cookie).toMatch(/^mnsim_session=[\w-]+; Path=\/; HttpOnly; SameSite=Strict$/);
      expect(cookie).not.toContain(TOKEN);
      const session = cookie.split(';')[0];

      const shell = await shttp.get('/ui/runs/abc').set('Cookie', session);
      expect(shell.status).toBe(200);
      expect(shell.text).toContain('<div id="app">');
      // what the pages ask of the API comes with the cookie
      expect((await shttp.get('/runs?limit=1').set('Cookie', session)).status).toBe(200);
      expectError(await shttp.get('/runs').set('Cookie', 'mnsim_session=forged'), 401);
      expectError(await shttp.get('/runs').set('Cookie', `${session}x`), 401);

      // somewhere else than the dashboard is not a place to go back to
      for (const next of ['https://example.com/', '//example.com/ui', '/runs']) {
        const r = await shttp.post('/ui/session').type('form').send({ token: TOKEN, next });
        expect([r.status, r.headers.location]).toEqual([303, '/ui/']);
      }
      const out = await shttp.get('/ui/sign-out').set('Cookie', session);
      expect(out.status).toBe(303);
      expect(out.headers['set-cookie']).toEqual([
        'mnsim_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0',
      ]);
    });

    it('401 before reading a body; 413 once authenticated', async () => {
      const big = { yaml: 'x'.repeat(2 * 1024 * 1024) };
      expectError(await shttp.post('/runs').send(big), 401);
      expectError(await shttp.post('/runs').set('Authorization', `Bearer ${TOKEN}`).send(big), 413);
    });
  });
});
