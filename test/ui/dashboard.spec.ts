/**
 * The dashboard's pages in a real browser, over a store holding runs the CLI recorded: every page
 * loads without a console error (and leaves its screenshot in test-output/screenshots), and the
 * signatures lead to their findings.
 */
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { CAMPAIGN, describeBrowser, useUi } from './harness.js';

const SEED_SIGNATURE = 'BUG: sleeping function called from invalid context in unmap_stage2_range';

/** The app has rendered, its requests have settled, and nothing says it is still loading. */
async function settled(page: Page): Promise<void> {
  await page.locator('#app > *').first().waitFor({ state: 'attached' });
  await page.waitForLoadState('networkidle');
  // nothing still says it is loading (no match at all resolves at once)
  await page
    .getByText(/^Loading /)
    .first()
    .waitFor({ state: 'hidden' });
}

describeBrowser('the dashboard', () => {
  const ui = useUi();

  it('loads every page without a console error', async () => {
    const { page, errors } = await ui.newPage();
    const pages: [string, string][] = [
      ['signatures', '/ui/'],
      ['signature', `/ui/signatures/${encodeURIComponent(SEED_SIGNATURE)}`],
      ['runs', '/ui/runs'],
      ['run', `/ui/runs/${ui.runs.oomReap}`],
      ['campaigns', '/ui/campaigns'],
      ['campaign', `/ui/campaigns/${CAMPAIGN.seed}`],
      ['not-found', '/ui/no/such/page'],
    ];
    for (const [name, path] of pages) {
      const res = await page.goto(path);
      expect(res?.status(), path).toBe(200);
      await settled(page);
      expect(await page.locator('.error').count(), `${path}: an error shown`).toBe(0);
      await ui.screenshot(page, name);
    }
    expect(errors).toEqual([]);
  });

  it('lists the signatures with their kernel × arch matrix, and a click lists its findings', async () => {
    const { page, errors } = await ui.newPage();
    await page.goto('/ui/');
    await settled(page);
    const rows = page.locator('table.signatures > tbody > tr');
    const titles = await rows.locator('td:first-child a').allInnerTexts();
    for (const s of ui.signatures) expect(titles).toContain(s);
    const seed = rows.filter({
      has: page.getByRole('link', { name: SEED_SIGNATURE, exact: true }),
    });
    // where it occurs: oom-reap-arm64's run on 5.8 at least (its run on 5.8+fix has none)
    expect(await seed.locator('table.matrix th').allInnerTexts()).toEqual(
      expect.arrayContaining(['arm64', '5.8']),
    );
    expect(await seed.locator('table.matrix td.hit').count()).toBeGreaterThan(0);

    await seed.getByRole('link', { name: SEED_SIGNATURE, exact: true }).click();
    await page.waitForURL(/\/ui\/signatures\//);
    await settled(page);
    expect(await page.locator('h1').innerText()).toBe(SEED_SIGNATURE);
    const findings = page.locator('table.violations > tbody > tr');
    // the signature's findings, as many as the API has (the runs' and the campaign's)
    const expected = await page.evaluate(async (sig) => {
      const res = await fetch(`/violations?limit=1000&signature=${encodeURIComponent(sig)}`);
      const body = (await res.json()) as { violations: { runId: string }[] };
      return body.violations.map((v) => v.runId);
    }, SEED_SIGNATURE);
    expect(await findings.count()).toBe(Math.min(expected.length, 50));
    // each leads to the page of its run
    const runLinks = await findings
      .locator('td:nth-child(2) a')
      .evaluateAll((as) => as.map((a) => String(a.getAttribute('href')).split('?')[0]));
    expect(runLinks).toEqual(expected.slice(0, 50).map((id) => `/ui/runs/${id}`));
    expect(runLinks).toContain(`/ui/runs/${ui.runs.oomReap}`);
    await findings.first().getByRole('button', { name: 'Show' }).click();
    expect(await page.locator('pre.splat').first().innerText()).toContain(
      'BUG: sleeping function called from invalid context at arch/arm64/kvm/mmu.c',
    );
    // and the runs that have it
    const runs = await page
      .locator('table.runs tr[data-run]')
      .evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-run')));
    expect(runs).toContain(ui.runs.oomReap);
    expect(runs).not.toContain(ui.runs.oomReapFixed);
    expect(errors).toEqual([]);
  });

  it('filters the runs, and shows a campaign by signature × variant × arch', async () => {
    const { page, errors } = await ui.newPage();
    await page.goto('/ui/runs?kernel=5.8%2Bfix&scenario=oom-reap-arm64');
    await settled(page);
    expect(
      await page
        .locator('table.runs tr[data-run]')
        .evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-run'))),
    ).toEqual([ui.runs.oomReapFixed]);
    await page.goto('/ui/campaigns');
    await settled(page);
    await page.getByRole('link', { name: `seed ${CAMPAIGN.seed}` }).click();
    await page.waitForURL(new RegExp(`/ui/campaigns/${CAMPAIGN.seed}$`));
    await settled(page);
    expect(await page.locator('table.runs tr[data-run]').count()).toBe(CAMPAIGN.runs);
    expect(errors).toEqual([]);
  });
});
