/**
 * The dashboard in headless Chromium (Debian's, driven by playwright-core), measured with the
 * browser's own performance APIs: a run of at least 10,000 events recorded by the CLI, served
 * by `mnsim serve`, and its page opened.
 *
 * - renderMs: from the page's navigation to the first frame of its timeline (the timeline's
 *   `mnsim:timeline:run:drawn` performance mark), the run's events read from the API on the way
 *   (its log, expanded in the page); eventsMs and modelMs say where that time goes (events
 *   read, geometry built). The median of VISITS visits, each in a browser context of its own
 *   (nothing cached), to a server that has answered before: a dashboard in use.
 * - coldRenderMs: the same for the first visit after the server started, when its code has not
 *   yet been compiled by V8's optimising tiers (and the browser's is cold too).
 * - smallRunRenderMs: renderMs of a run of a few dozen events (the built-in oom-reap-arm64), in
 *   the same way: what a run's page costs on this machine whatever the run's size.
 * - panFps: frames the timeline drew per second while its view moves every frame for two
 *   seconds (the arrow keys), two thirds of the run in view, then zoomed in; panMaxDrawMs the
 *   slowest of those frames.
 * - bundleGzipBytes: the dashboard's JavaScript and CSS, gzipped, as the server sends them.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { simulate } from '@mnsim/engine';
import { generateScenario } from '@mnsim/scenarios';
import { launchChromium } from './chromium.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'apps/cli/src/main.js');
const UI_ASSETS = join(ROOT, 'ui/assets');
const MIN_EVENTS = 10_000;
/** visits measured after the first */
const VISITS = 5;

export interface UiBenchResult {
  /** events of the run opened */
  events: number;
  renderMs: number;
  coldRenderMs: number;
  smallRunRenderMs: number;
  eventsMs: number | null;
  modelMs: number | null;
  /** the first frame's own drawing time */
  firstDrawMs: number;
  /**
   * The bound under renderMs: the same events read from the API by this process as the page
   * reads them (the run's log, gzipped), neither expanded nor drawn
   */
  apiEventsMs: number;
  panFps: number;
  /** the slowest frame drawn while panning */
  panMaxDrawMs: number;
  bundleBytes: number;
  bundleGzipBytes: number;
}

/** A generated scenario whose run has at least MIN_EVENTS events (the first found, seed 7). */
function bigScenario(): { yaml: string; events: number } {
  for (let i = 0; i < 200; i++) {
    const g = generateScenario(7, i, { steps: 1500, mix: 'invalidations' });
    const { events } = simulate(g.scenario, { keepKernelLog: false, encode: false });
    if (events >= MIN_EVENTS) return { yaml: g.yaml, events };
  }
  throw new Error(`no generated scenario of ${MIN_EVENTS} events or more`);
}

async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as { port: number };
  s.close();
  return port;
}

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.once('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`mnsim ${args[0]}: exit ${code}: ${err}`)),
    );
  });
}

/** The built assets' bytes, and gzipped as the browser receives them. */
function bundleSize(): { bytes: number; gzip: number } {
  let bytes = 0;
  let gzip = 0;
  for (const f of readdirSync(UI_ASSETS)) {
    if (!/\.(js|css)$/.test(f)) continue;
    const data = readFileSync(join(UI_ASSETS, f));
    bytes += data.length;
    gzip += gzipSync(data, { level: 9 }).length;
  }
  return { bytes, gzip };
}

export async function benchUi(log: (line: string) => void): Promise<UiBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'mnsim-bench-ui-'));
  const env: NodeJS.ProcessEnv = { ...process.env, MNSIM_SQLITE_PATH: join(dir, 'store.sqlite') };
  for (const k of ['MNSIM_DATABASE_URL', 'MNSIM_REDIS_URL', 'MNSIM_API_TOKEN']) delete env[k];
  let server: ReturnType<typeof spawn> | null = null;
  const browser = await launchChromium();
  try {
    const big = bigScenario();
    const file = join(dir, 'big.yaml');
    writeFileSync(file, big.yaml);
    log(`ui: recording a run of ${big.events} events, then opening its page…`);
    const { runId } = JSON.parse(await cli(['run', file, '--json'], env)) as { runId: string };
    const small = JSON.parse(await cli(['run', 'oom-reap-arm64', '--json'], env)) as {
      runId: string;
    };
    const port = await freePort();
    server = spawn(process.execPath, [CLI, 'serve'], {
      env: { ...env, MNSIM_API_PORT: String(port) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    // it says where it listens on its standard error, with its other notices
    let said = '';
    server.stderr?.setEncoding('utf8').on('data', (d: string) => (said += d));
    for (let i = 0; i < 200 && !said.includes('listening'); i++) await sleep(50);
    if (!said.includes('listening')) throw new Error('mnsim serve did not start');

    // the page, in a browser context of its own (no cache, no cookie), until its timeline is drawn
    const visit = async (id = runId) => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      await page.goto(`http://127.0.0.1:${port}/ui/runs/${id}`);
      await page.waitForFunction(
        () => performance.getEntriesByName('mnsim:timeline:run:drawn').length > 0,
        null,
        {
          timeout: 60_000,
        },
      );
      const marks = await page.evaluate(() => {
        const at = (name: string) => performance.getEntriesByName(name)[0]?.startTime ?? null;
        return {
          drawn: at('mnsim:timeline:run:drawn') ?? 0,
          events: at('mnsim:timeline:events'),
          model: at('mnsim:timeline:model'),
        };
      });
      return { context, page, marks };
    };
    // the marks of VISITS visits to a run's page, each context closed after it
    const visitsTo = async (id: string) => {
      const out: Awaited<ReturnType<typeof visit>>['marks'][] = [];
      for (let i = 0; i < VISITS; i++) {
        const v = await visit(id);
        out.push(v.marks);
        await v.context.close();
      }
      return out;
    };
    const median = <T extends { drawn: number }>(ms: T[]): T =>
      [...ms].sort((x, y) => x.drawn - y.drawn)[ms.length >> 1];
    const cold = await visit();
    await cold.context.close();
    const visits = await visitsTo(runId);
    log(
      `ui: first visit drawn at ${Math.round(cold.marks.drawn)} ms, then ${visits.map((v) => Math.round(v.drawn)).join(', ')} ms`,
    );
    const marks = median(visits);
    const smallRunRenderMs = Math.round(median(await visitsTo(small.runId)).drawn);
    log(`ui: a run of a few dozen events: drawn at ${smallRunRenderMs} ms (median)`);
    // one more visit, whose page stays open to be panned
    const { page } = await visit();
    // pan: the view moved every frame for two seconds (the arrow keys, as a user holding one
    // down), two thirds of the run in view, then zoomed in; the frames drawn meanwhile, per second
    let frames = 0;
    let ms = 0;
    let maxDraw = 0;
    for (const zoomIn of [1, 6]) {
      const pan = await page.evaluate(async (zoom) => {
        type Handle = { stats(): { frames: number; lastDrawMs: number } };
        const g = globalThis as unknown as {
          __mnsimTimeline: Handle;
          document: { querySelector(s: string): { dispatchEvent(e: unknown): void } | null };
          KeyboardEvent: new (type: string, init: { key: string; bubbles: boolean }) => unknown;
          requestAnimationFrame(cb: () => void): void;
        };
        const box = g.document.querySelector('[data-testid="timeline"]');
        if (box === null) throw new Error('no timeline');
        const key = (k: string) =>
          box.dispatchEvent(new g.KeyboardEvent('keydown', { key: k, bubbles: true }));
        for (let z = 0; z < zoom; z++) key('+');
        const h = g.__mnsimTimeline;
        const f0 = h.stats().frames;
        const t0 = performance.now();
        let worst = 0;
        let n = 0;
        await new Promise<void>((done) => {
          const tick = () => {
            worst = Math.max(worst, h.stats().lastDrawMs);
            // two frames right, two left: the view moves every frame and stays within the run
            key(n++ % 4 < 2 ? 'ArrowRight' : 'ArrowLeft');
            if (performance.now() - t0 < 2000) g.requestAnimationFrame(tick);
            else done();
          };
          g.requestAnimationFrame(tick);
        });
        return { frames: h.stats().frames - f0, ms: performance.now() - t0, worst };
      }, zoomIn);
      frames += pan.frames;
      ms += pan.ms;
      maxDraw = Math.max(maxDraw, pan.worst);
    }
    const first = await page.evaluate(() =>
      (
        globalThis as unknown as { __mnsimTimeline: { stats(): { firstDrawMs: number } } }
      ).__mnsimTimeline.stats(),
    );
    const t0 = performance.now();
    const res = await fetch(`http://127.0.0.1:${port}/runs/${runId}/log`, {
      headers: { 'Accept-Encoding': 'gzip' },
    });
    if (!res.ok) throw new Error(`GET /runs/${runId}/log: ${res.status}`);
    await res.text();
    const apiEventsMs = Math.round(performance.now() - t0);
    const size = bundleSize();
    return {
      events: big.events,
      renderMs: Math.round(marks.drawn),
      coldRenderMs: Math.round(cold.marks.drawn),
      smallRunRenderMs,
      eventsMs: marks.events === null ? null : Math.round(marks.events),
      modelMs: marks.model === null ? null : Math.round(marks.model),
      firstDrawMs: Math.round(first.firstDrawMs * 10) / 10,
      apiEventsMs,
      panFps: Math.round((frames / ms) * 1000 * 10) / 10,
      panMaxDrawMs: Math.round(maxDraw * 10) / 10,
      bundleBytes: size.bytes,
      bundleGzipBytes: size.gzip,
    };
  } finally {
    await browser.close();
    server?.kill('SIGTERM');
    if (server) await once(server, 'exit').catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
