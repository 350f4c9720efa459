/**
 * A run's page in a real browser: the oom-reap-arm64 run on 5.8, its timeline, the execution
 * context at its splat, its kernel log, and the fix's counterfactual. The timeline is a canvas:
 * the tests read where it drew each finding through the page's test handle
 * (ui/src/timeline/testing.ts) and click there, as a user would.
 */
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { describeBrowser, useUi } from './harness.js';

interface Mark {
  seq: number;
  kind: string;
  x: number;
  y: number;
  visible: boolean;
}

/** The violations of the run, as the API has them: the events they were recorded at. */
async function violationSeqs(page: Page, runId: string): Promise<number[]> {
  return page.evaluate(async (id) => {
    const res = await fetch(`/violations?limit=1000&run=${encodeURIComponent(id)}`);
    const body = (await res.json()) as { violations: { seq: number }[] };
    return body.violations.map((v) => v.seq).sort((a, b) => a - b);
  }, runId);
}

/** The run's timeline is drawn (its events loaded and a first frame on the canvas). */
async function timelineDrawn(page: Page): Promise<void> {
  await page.waitForFunction(
    () =>
      (globalThis as { __mnsimTimeline?: { stats(): { frames: number } } }).__mnsimTimeline?.stats()
        .frames ?? 0,
  );
}

function marks(page: Page): Promise<Mark[]> {
  return page.evaluate(() =>
    (globalThis as unknown as { __mnsimTimeline: { marks(): Mark[] } }).__mnsimTimeline.marks(),
  );
}

interface TimelineView {
  x0: number;
  scale: number;
  slots: number;
}

/**
 * The page's globals the wheel test reads (the tests are type-checked without the DOM's): the
 * window's scroll, the run's timeline's handle, and the hint's texts as it changed.
 */
interface PageGlobals {
  scrollX: number;
  scrollY: number;
  innerHeight: number;
  document: {
    documentElement: { scrollHeight: number };
    querySelector(selector: string): { textContent: string | null } | null;
  };
  MutationObserver: new (callback: () => void) => { observe(node: unknown, opts: object): void };
  requestAnimationFrame(callback: () => void): void;
  __mnsimTimeline: { view(): TimelineView };
  __hints: string[];
}

/** The run's timeline's view: the slot at its left edge and its scale. */
function timelineView(page: Page): Promise<TimelineView> {
  return page.evaluate(() => (globalThis as unknown as PageGlobals).__mnsimTimeline.view());
}

/** How far the page is scrolled, two frames on: a scroll a wheel was to make has been made. */
function scrolled(page: Page): Promise<{ x: number; y: number }> {
  return page.evaluate(async () => {
    const g = globalThis as unknown as PageGlobals;
    for (let i = 0; i < 2; i++) await new Promise<void>((r) => g.requestAnimationFrame(r));
    return { x: g.scrollX, y: g.scrollY };
  });
}

const field = (page: Page, name: string) =>
  page.locator(`[data-testid="context-panel"] [data-field="${name}"]`).first().innerText();

/** How many events the run has, as the API says. */
function runEvents(page: Page, runId: string): Promise<number> {
  return page.evaluate(async (id) => {
    const res = await fetch(`/runs/${encodeURIComponent(id)}`);
    return ((await res.json()) as { events: number }).events;
  }, runId);
}

/** How many events the run's timeline holds. */
async function drawnEvents(page: Page): Promise<number> {
  return Number(await page.locator('[data-testid="timeline"]').getAttribute('data-events'));
}

/**
 * Where the timeline draws each event and each finding, and what the context panel says of each
 * finding: the same for the same events, however they were read.
 */
async function layout(page: Page): Promise<unknown> {
  const drawn = await page.evaluate(
    (n) => {
      const h = (
        globalThis as unknown as {
          __mnsimTimeline: { positionOf(seq: number): unknown; marks(): Mark[] };
        }
      ).__mnsimTimeline;
      return {
        positions: Array.from({ length: n }, (_, seq) => h.positionOf(seq)),
        marks: h.marks(),
      };
    },
    await drawnEvents(page),
  );
  const panels: string[] = [];
  for (const m of drawn.marks) {
    await page.evaluate(
      (seq) =>
        (
          globalThis as unknown as { __mnsimTimeline: { select(seq: number): void } }
        ).__mnsimTimeline.select(seq),
      m.seq,
    );
    const panel = page.locator(`[data-testid="context-panel"][data-seq="${m.seq}"]`);
    panels.push(await panel.innerText());
  }
  return { ...drawn, panels };
}

/** The API paths the page asked for, in order (its resource timing entries). */
function requested(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    performance
      .getEntriesByType('resource')
      .map((e) => new URL(e.name).pathname)
      .filter((p) => p.startsWith('/runs/')),
  );
}

describeBrowser("a run's page", () => {
  const ui = useUi();

  it("reads a completed run's events from its log, asked for beside the run", async () => {
    const { page, errors } = await ui.newPage();
    const runId = ui.runs.userptrEagain;
    await page.goto(`/ui/runs/${runId}`);
    await timelineDrawn(page);
    expect(await drawnEvents(page)).toBe(await runEvents(page, runId));
    const paths = await requested(page);
    expect(paths).toContain(`/runs/${runId}/log`);
    expect(paths.filter((p) => p.endsWith('/events'))).toEqual([]);
    // not waiting for the run: the log is asked for before the run has answered
    const started = await page.evaluate((id) => {
      const at = (path: string) =>
        performance
          .getEntriesByType('resource')
          .find((e) => new URL(e.name).pathname === path) as unknown as {
          startTime: number;
          responseEnd: number;
        };
      return {
        log: at(`/runs/${id}/log`).startTime,
        runAnswered: at(`/runs/${id}`).responseEnd,
      };
    }, runId);
    expect(started.log).toBeLessThan(started.runAnswered);
    expect(errors).toEqual([]);
  });

  it("reads the events' pages when the run has no log (409: running, or failed), and draws the same timeline", async () => {
    const runId = ui.runs.userptrEagain;
    const fromLog = await ui.newPage();
    await fromLog.page.goto(`/ui/runs/${runId}`);
    await timelineDrawn(fromLog.page);
    const expected = await layout(fromLog.page);

    const { page, errors } = await ui.newPage();
    await page.route(`**/runs/${runId}/log`, (route) =>
      route.fulfill({
        status: 409,
        contentType: 'application/json',
        body: JSON.stringify({
          statusCode: 409,
          error: 'Conflict',
          message: `run ${runId} is running: only completed runs have a log to export`,
        }),
      }),
    );
    await page.goto(`/ui/runs/${runId}`);
    await timelineDrawn(page);
    const paths = await requested(page);
    expect(paths.filter((p) => p.endsWith('/events')).length).toBeGreaterThan(0);
    expect(await drawnEvents(page)).toBe(await runEvents(page, runId));
    expect(await layout(page)).toEqual(expected);
    // the browser's own line for that answer, and nothing else
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/status of 409 .*\/log:/);
  });

  it('marks each violation of oom-reap-arm64 at its event, and the splat shows its context', async () => {
    const { page, errors } = await ui.newPage();
    await page.goto(`/ui/runs/${ui.runs.oomReap}`);
    await timelineDrawn(page);
    const seqs = await violationSeqs(page, ui.runs.oomReap);
    expect(seqs).toHaveLength(2);
    const drawn = await marks(page);
    expect(drawn.map((m) => m.seq).sort((a, b) => a - b)).toEqual(seqs);
    expect(drawn.every((m) => m.kind === 'atomic-sleep' && m.visible)).toBe(true);

    // a click on the first mark: the context panel is the splat's
    const first = drawn.find((m) => m.seq === seqs[0]);
    await page
      .locator('[data-testid="timeline"] canvas')
      .first()
      .click({
        position: { x: first?.x ?? 0, y: first?.y ?? 0 },
      });
    await page.locator(`[data-testid="context-panel"][data-seq="${seqs[0]}"]`).waitFor();
    expect(await field(page, 'type')).toBe('violation');
    expect(await field(page, 'preemptCount')).toBe('1');
    expect(await field(page, 'nonBlock')).toBe('1');
    expect(await field(page, 'comm')).toBe('oom_reaper');
    expect(page.url()).toContain(`seq=${seqs[0]}`);
    await ui.screenshot(page, 'run-splat-selected');
    // the window alone: the picture in the README (docs/dashboard-run.png is a copy of it)
    await ui.screenshot(page, 'run-timeline', { fullPage: false });

    // the kernel log's splat (the one the once-per-HZ limit let print) names its violation:
    // a click there selects it
    const splat = page.locator('[data-testid="kernel-log"] [data-splat="true"]').first();
    const printed = Number(await splat.getAttribute('data-seq'));
    expect(seqs).toContain(printed);
    await splat.click();
    await page.locator(`[data-testid="context-panel"][data-seq="${printed}"]`).waitFor();
    expect(await field(page, 'nonBlock')).toBe('1');
    expect(errors).toEqual([]);
  });

  it('leaves a plain wheel over the timeline to the page, which scrolls; Ctrl + wheel zooms, a sideways wheel pans', async () => {
    const { page, errors } = await ui.newPage();
    // a window short enough for the page to scroll on past the timeline
    await page.setViewportSize({ width: 1280, height: 600 });
    await page.goto(`/ui/runs/${ui.runs.oomReap}`);
    await timelineDrawn(page);
    // what the hint says, each time it changes (it fades and is emptied after a moment)
    await page.evaluate(() => {
      const g = globalThis as unknown as PageGlobals;
      g.__hints = [];
      const hint = g.document.querySelector('[data-testid="timeline-hint"]');
      new g.MutationObserver(() => g.__hints.push(hint?.textContent ?? '')).observe(hint, {
        childList: true,
        characterData: true,
        subtree: true,
      });
    });
    const timeline = page.locator('[data-testid="timeline"]');
    await timeline.hover();
    const fitted = await timelineView(page);
    const before = await scrolled(page);
    const room = await page.evaluate(() => {
      const g = globalThis as unknown as PageGlobals;
      return g.document.documentElement.scrollHeight - g.innerHeight - g.scrollY;
    });
    expect(room).toBeGreaterThan(100);

    // a plain wheel: the page scrolls, the timeline's view stays, and the hint says how to zoom
    await page.mouse.wheel(0, 100);
    await page.waitForFunction((y) => (globalThis as unknown as PageGlobals).scrollY > y, before.y);
    expect(await timelineView(page)).toEqual(fitted);
    const hints = await page.evaluate(() => (globalThis as unknown as PageGlobals).__hints);
    expect(hints[0]).toBe('Ctrl + wheel to zoom');

    // Ctrl + wheel (a pinch comes as one too): the timeline zooms in, the page stays where it is
    await timeline.hover();
    const at = await scrolled(page);
    await page.keyboard.down('Control');
    await page.mouse.wheel(0, -300);
    await page.keyboard.up('Control');
    await page.waitForFunction(
      (scale) => (globalThis as unknown as PageGlobals).__mnsimTimeline.view().scale > scale,
      fitted.scale,
    );
    const zoomed = await timelineView(page);
    expect(await scrolled(page)).toEqual(at);

    // a sideways wheel pans the zoomed-in timeline, and neither scrolls the page
    await page.mouse.wheel(200, 0);
    await page.waitForFunction(
      (x0) => (globalThis as unknown as PageGlobals).__mnsimTimeline.view().x0 > x0,
      zoomed.x0,
    );
    expect((await timelineView(page)).scale).toBe(zoomed.scale);
    expect(await scrolled(page)).toEqual(at);
    expect(errors).toEqual([]);
  });

  it('opens at the event of ?seq=, and replayed on 5.8+fix the two BUGs are removed, none added', async () => {
    const { page, errors } = await ui.newPage();
    const seqs = await (async () => {
      await page.goto(`/ui/runs/${ui.runs.oomReap}`);
      return violationSeqs(page, ui.runs.oomReap);
    })();
    await page.goto(`/ui/runs/${ui.runs.oomReap}?seq=${seqs[1]}`);
    await timelineDrawn(page);
    await page.locator(`[data-testid="context-panel"][data-seq="${seqs[1]}"]`).waitFor();

    await page.locator('[data-testid="counterfactual-kernel"]').selectOption('5.8+fix');
    await page.getByRole('button', { name: 'Replay' }).click();
    const removed = page.locator('[data-testid="removed"]');
    await removed.waitFor();
    expect(await removed.getAttribute('data-count')).toBe('2');
    expect(await page.locator('[data-testid="added"]').getAttribute('data-count')).toBe('0');
    expect(await removed.locator('pre.splat').first().innerText()).toContain(
      'BUG: sleeping function called from invalid context at arch/arm64/kvm/mmu.c',
    );
    expect(
      await page
        .locator('[data-testid="counterfactual-summary"] [data-field="matches"]')
        .getAttribute('data-matches'),
    ).toBe('false');
    // the replay's timeline is drawn under the run's, without a finding
    await page.waitForFunction(
      () =>
        (
          globalThis as { __mnsimTimelines?: Record<string, { stats(): { frames: number } }> }
        ).__mnsimTimelines?.replay?.stats().frames ?? 0,
    );
    const replayMarks = await page.evaluate(
      () =>
        (
          globalThis as unknown as { __mnsimTimelines: Record<string, { marks(): Mark[] }> }
        ).__mnsimTimelines.replay.marks().length,
    );
    expect(replayMarks).toBe(0);
    await ui.screenshot(page, 'run-counterfactual');
    expect(errors).toEqual([]);
  });
});
