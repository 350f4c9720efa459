/**
 * Test support for the dashboard's browser tests: the real API app (`mnsim serve`'s) listening on
 * 127.0.0.1 over a SQLite store of its own, holding runs recorded by the CLI, and Debian's
 * Chromium driven headless by playwright-core.
 *
 * `useUi()` sets all of it up once for a test file (beforeAll) and takes it all down again
 * (afterAll): the browser, the servers, the temporary directories. Each `newPage()` is a page in a
 * context of its own (its own cookies, so its own session) that records the console errors and
 * the uncaught exceptions of its pages, for a test to check that there were none.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe } from 'vitest';
import { type ApiConfig, createApiApp } from '@mnsim/http';
import { TimedOut, within } from '../../libs/http/src/within.js';
import { main } from '../../apps/cli/src/cli.js';
import { captureOutput } from '../cli-output.js';
import { buildDist } from '../distributed/processes.js';
import { CHROMIUM, launchChromium } from '../../bench/src/chromium.js';

export { CHROMIUM };

const ROOT = join(import.meta.dirname, '../..');
/** Debian's package, never a browser downloaded by Playwright */
export const SCREENSHOTS = join(ROOT, 'test-output/screenshots');

/** How long a page action or expectation waits: well under the test's own timeout. */
const PAGE_TIMEOUT_MS = 10_000;

/**
 * The browser tests run where Chromium is; without it they are skipped on a developer's machine,
 * and fail in CI, which installs it (.ci/run).
 */
const skipBrowser = !existsSync(CHROMIUM) && !process.env.CI;
if (skipBrowser) {
  console.warn(
    `browser tests skipped: ${CHROMIUM} is missing (install Debian's chromium package, as .ci/run does)`,
  );
}

/** `describe` for browser tests: skipped, with the warning above, when Chromium is not here. */
export const describeBrowser = describe.skipIf(skipBrowser);

/** The runs recorded before the server starts, by what they show. */
export interface RecordedRuns {
  /** oom-reap-arm64 on 5.8: the sleeping-while-atomic BUG */
  oomReap: string;
  /** oom-reap-arm64 on 5.8+fix: the same OOM, no violation */
  oomReapFixed: string;
  /** userptr-eagain-arm64 */
  userptrEagain: string;
  /** guest-livelock-arm64 */
  guestLivelock: string;
}

const RECORDED: Record<keyof RecordedRuns, string[]> = {
  oomReap: ['oom-reap-arm64', '--kernel', '5.8'],
  oomReapFixed: ['oom-reap-arm64', '--kernel', '5.8+fix'],
  userptrEagain: ['userptr-eagain-arm64'],
  guestLivelock: ['guest-livelock-arm64'],
};

/** One step of the harness's cleanup, named for the error if it does not end. */
interface Cleanup {
  what: string;
  undo: () => Promise<void> | void;
}

/** How long one cleanup step may take: the servers' close is bounded by their shutdown grace. */
const CLEANUP_TIMEOUT_MS = 20_000;

async function bounded(cleanup: Cleanup): Promise<void> {
  try {
    await within(CLEANUP_TIMEOUT_MS, Promise.resolve(cleanup.undo()));
  } catch (err) {
    if (!(err instanceof TimedOut)) throw err;
    throw new Error(`${cleanup.what}: not done after ${CLEANUP_TIMEOUT_MS} ms`, { cause: err });
  }
}

/** The fuzz campaign recorded beside the runs. */
export const CAMPAIGN = { seed: 11, runs: 4 };

export interface UiServer {
  /** http://127.0.0.1:<port> */
  url: string;
  token: string | null;
}

export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  /** every console error and uncaught exception of the page so far, one line each */
  errors: string[];
}

export interface UiHarness {
  /** the server `useUi` started, over the store holding `runs` */
  readonly server: UiServer;
  readonly runs: RecordedRuns;
  /** every signature of the recorded runs' violations, sorted */
  readonly signatures: string[];
  readonly browser: Browser;
  /** one more server over the same store, with another token (or none); closed in afterAll */
  serve(token: string | null): Promise<UiServer>;
  /** a page in a fresh context (no cookies) whose base URL is `server`'s (default: the first) */
  newPage(server?: UiServer): Promise<WatchedPage>;
  /** the page (whole, or the window with fullPage false) as test-output/screenshots/<name>.png */
  screenshot(page: Page, name: string, opts?: { fullPage?: boolean }): Promise<string>;
}

/** The environment the CLI reads its store from, saved around the recording. */
const STORE_ENV = [
  'MNSIM_SQLITE_PATH',
  'MNSIM_DATABASE_URL',
  'MNSIM_DATABASE_SCHEMA',
  'MNSIM_REDIS_URL',
] as const;

/**
 * Records the runs with `mnsim run <scenario> --json`, in-process, into the SQLite file; returns
 * their ids and every signature of their violations.
 */
async function recordRuns(
  sqlitePath: string,
): Promise<{ runs: RecordedRuns; signatures: string[] }> {
  const saved = STORE_ENV.map((name) => [name, process.env[name]] as const);
  for (const name of STORE_ENV) delete process.env[name];
  process.env.MNSIM_SQLITE_PATH = sqlitePath;
  try {
    const runs: Partial<RecordedRuns> = {};
    const signatures = new Set<string>();
    for (const [key, args] of Object.entries(RECORDED) as [keyof RecordedRuns, string[]][]) {
      const r = await captureOutput(() => main(['run', ...args, '--json']));
      if (r.code !== 0) throw new Error(`mnsim run ${args.join(' ')}: exit ${r.code}: ${r.err}`);
      const run = JSON.parse(r.out) as { runId: string; violations: { signature: string }[] };
      runs[key] = run.runId;
      for (const v of run.violations) signatures.add(v.signature);
    }
    // and a small fuzz campaign, for the campaigns' pages
    const fuzz = await captureOutput(() =>
      main(['fuzz', '--runs', String(CAMPAIGN.runs), '--seed', String(CAMPAIGN.seed), '--json']),
    );
    if (fuzz.code !== 0) throw new Error(`mnsim fuzz: exit ${fuzz.code}: ${fuzz.err}`);
    return { runs: runs as RecordedRuns, signatures: [...signatures].sort() };
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

/**
 * Sets up, for the test file (or the describe block) it is called in: a store with the recorded
 * runs, the API app over it with `token`, and one browser. Its fields are there from beforeAll on.
 */
export function useUi(opts: { token?: string | null } = {}): UiHarness {
  /**
   * what afterAll undoes, in reverse order, whatever part of beforeAll got done; the browser is
   * closed first, so that no page of it holds a request the servers would wait for
   */
  const cleanups: Cleanup[] = [];
  let closeBrowser: Cleanup | null = null;
  let sqlitePath = '';
  let first: UiServer | null = null;
  let recorded: { runs: RecordedRuns; signatures: string[] } | null = null;
  let browser: Browser | null = null;

  const ready = <T>(value: T | null, what: string): T => {
    if (value === null)
      throw new Error(`the UI harness has no ${what} yet (beforeAll has not run)`);
    return value;
  };

  async function serve(token: string | null): Promise<UiServer> {
    const config: ApiConfig = {
      host: '127.0.0.1',
      port: 0,
      token,
      bodyLimitBytes: 1024 * 1024,
      store: { sqlitePath },
      // the other test files keep both cores busy at nice 0, where the default niceness of 10
      // would starve a replay's thread (MNSIM_API_NICE says as much); the bench measures it
      simulation: { niceness: 0 },
    };
    const app = await createApiApp(config, { logger: false });
    cleanups.push({
      what: `closing the server on ${token === null ? 'no token' : 'a token'}`,
      undo: () => app.close(),
    });
    const server = app.getHttpServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, token };
  }

  async function newPage(server: UiServer = ready(first, 'server')): Promise<WatchedPage> {
    const context = await ready(browser, 'browser').newContext({
      baseURL: server.url,
      viewport: { width: 1280, height: 800 },
      deviceScaleFactor: 1,
    });
    context.setDefaultTimeout(PAGE_TIMEOUT_MS);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      const { url, lineNumber } = msg.location();
      errors.push(`console.error: ${msg.text()}${url ? ` (${url}:${lineNumber})` : ''}`);
    });
    page.on('pageerror', (err) => errors.push(`uncaught: ${err.stack ?? err.message}`));
    return { page, context, errors };
  }

  async function screenshot(
    page: Page,
    name: string,
    opts: { fullPage?: boolean } = {},
  ): Promise<string> {
    if (!/^[\w.-]+$/.test(name))
      throw new Error(`screenshot name "${name}": letters, digits, . _ -`);
    mkdirSync(SCREENSHOTS, { recursive: true });
    const path = join(SCREENSHOTS, `${name}.png`);
    await page.screenshot({ path, fullPage: opts.fullPage ?? true });
    return path;
  }

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `the browser tests need ${CHROMIUM}: install Debian's chromium (.ci/run does)`,
      );
    }
    // the pages are dist/ui, built with the rest
    if (!process.env.MNSIM_TEST_SKIP_BUILD) buildDist();
    if (!existsSync(join(ROOT, 'dist/ui/index.html'))) {
      throw new Error('the dashboard is not built (dist/ui): run `npm run build`');
    }
    const dir = mkdtempSync(join(tmpdir(), 'mnsim-ui-'));
    cleanups.push({
      what: 'removing the store',
      undo: () => rmSync(dir, { recursive: true, force: true }),
    });
    sqlitePath = join(dir, 'mnsim.sqlite');
    // the browser starts while the runs are recorded
    const launching = launchChromium();
    // closed if it did start, even when recording failed; a failed launch is reported below
    const launched = launching.catch(() => null);
    closeBrowser = { what: 'closing the browser', undo: async () => (await launched)?.close() };
    recorded = await recordRuns(sqlitePath);
    first = await serve(opts.token ?? null);
    browser = await launching;
  });

  afterAll(async () => {
    const failures: unknown[] = [];
    const order = [...(closeBrowser === null ? [] : [closeBrowser]), ...cleanups.reverse()];
    for (const cleanup of order) {
      try {
        await bounded(cleanup);
      } catch (err) {
        failures.push(err);
      }
    }
    cleanups.length = 0;
    closeBrowser = null;
    if (failures.length > 0) throw new AggregateError(failures, 'UI harness cleanup failed');
  });

  return {
    get server() {
      return ready(first, 'server');
    },
    get runs() {
      return ready(recorded, 'runs').runs;
    },
    get signatures() {
      return ready(recorded, 'runs').signatures;
    },
    get browser() {
      return ready(browser, 'browser');
    },
    serve,
    newPage,
    screenshot,
  };
}
