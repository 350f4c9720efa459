/**
 * The dashboard's token rule in a real browser: with MNSIM_API_TOKEN set, no page and none of the
 * API's data without signing in, and the sign-in form leads back to the page asked for; without a
 * token, the pages open at once.
 */
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { describeBrowser, useUi } from './harness.js';

const TOKEN = 'ui-test-token-0123456789abcdef';

/** The statuses the API answers the page's own requests with (its origin, its cookies). */
function apiStatuses(page: Page, paths: string[]): Promise<number[]> {
  return page.evaluate(
    (all) =>
      Promise.all(all.map(async (p) => (await fetch(p, { credentials: 'same-origin' })).status)),
    paths,
  );
}

/** The page's app has rendered something, and its first requests have settled. */
async function rendered(page: Page): Promise<void> {
  await page.locator('#app > *').first().waitFor({ state: 'attached' });
  await page.waitForLoadState('networkidle');
}

describeBrowser('the dashboard and its token', () => {
  // one browser and one store for the file; the server without a token shares both
  const ui = useUi({ token: TOKEN });

  it('shows every page as the sign-in form, with nothing of the history, and refuses the data', async () => {
    const { page } = await ui.newPage();
    const ids = Object.values(ui.runs);
    const { oomReap } = ui.runs;
    for (const path of ['/ui', '/ui/runs', `/ui/runs/${oomReap}`]) {
      const res = await page.goto(path);
      expect(res?.status(), path).toBe(401);
      expect(await page.locator('form[action="/ui/session"] input[name="token"]').count()).toBe(1);
      expect(await page.locator('#app').count(), path).toBe(0);
      // the page asked for comes back in the form (where to go after signing in), nothing else
      const text = await page.locator('body').innerText();
      const html = (await page.content()).replace(`value="${path}"`, '');
      for (const data of [...ids, ...ui.signatures, 'sleeping function']) {
        expect(text, path).not.toContain(data);
        expect(html, path).not.toContain(data);
      }
      const paths = [
        '/runs',
        `/runs/${oomReap}`,
        `/runs/${oomReap}/events`,
        '/violations',
        '/signatures',
      ];
      expect(await apiStatuses(page, paths), path).toEqual(paths.map(() => 401));
    }
    await ui.screenshot(page, 'sign-in');
  });

  it('signs in through the form and lands on the page asked for, which loads without errors', async () => {
    const { page, errors } = await ui.newPage();
    const path = `/ui/runs/${ui.runs.oomReap}`;

    await page.goto(path);
    await page.locator('input[name="token"]').fill(TOKEN);
    const landed = page.waitForResponse(
      (r) => new URL(r.url()).pathname === path && r.request().isNavigationRequest(),
    );
    // until now the page was the sign-in form, answered 401: what counts is the page signed in
    const signedIn = errors.length;
    await page.locator('button[type="submit"]').click();
    expect((await landed).status()).toBe(200);
    expect(new URL(page.url()).pathname).toBe(path);
    await rendered(page);
    expect(await page.locator('form[action="/ui/session"]').count()).toBe(0);
    expect(await apiStatuses(page, ['/runs', '/signatures'])).toEqual([200, 200]);
    expect(errors.slice(signedIn)).toEqual([]);
  });

  it('without a token, opens at /ui, and / goes there', async () => {
    const open = await ui.serve(null);
    const { page, errors } = await ui.newPage(open);
    const res = await page.goto('/');
    expect(res?.status()).toBe(200);
    expect(res?.request().redirectedFrom()?.url()).toBe(`${open.url}/`);
    expect(new URL(page.url()).pathname).toBe('/ui/');
    expect((await page.goto('/ui'))?.status()).toBe(200);
    await rendered(page);
    expect(await page.locator('form[action="/ui/session"]').count()).toBe(0);
    expect(await apiStatuses(page, ['/runs'])).toEqual([200]);
    expect(errors).toEqual([]);
  });
});
