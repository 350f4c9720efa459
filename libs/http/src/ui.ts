/**
 * The dashboard under /ui: the pages the front end builds into dist/ui (ui/ in the repository,
 * built by `npm run build`), served by the API on its own origin so that they share its data and
 * its token rule.
 *
 * With MNSIM_API_TOKEN set, the pages are served only to a browser that signed in: the sign-in
 * form posts the token once, and the answer sets a session cookie (no expiry: it lasts as long as
 * the browser session) holding not the token but an HMAC of it, HttpOnly and SameSite=Strict, so
 * no script reads it and no other site sends it. The API takes that cookie where it takes the
 * bearer header. Without the cookie a page is the sign-in form, with status 401.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Express, Request, Response } from 'express';

export const UI_PREFIX = '/ui';
export const SESSION_COOKIE = 'mnsim_session';
/** a sign-in form's body: the token and where to go back to */
const SIGN_IN_BODY_LIMIT = 8 * 1024;

type Next = (err?: unknown) => void;

/** What the session cookie of a token holds: an HMAC of it, never the token itself. */
export function sessionValue(token: string): string {
  return createHmac('sha256', token).update('mnsim-ui-session').digest('base64url');
}

/**
 * Whether a request carries the session cookie of `token`, compared in constant time; the
 * cookie's value is computed once, not per request.
 */
export function sessionCheck(token: string): (req: IncomingMessage) => boolean {
  const expected = Buffer.from(sessionValue(token));
  return (req) => {
    const presented = cookie(req, SESSION_COOKIE);
    if (presented === null) return false;
    const got = Buffer.from(presented);
    return got.length === expected.length && timingSafeEqual(got, expected);
  };
}

function cookie(req: IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/**
 * Where the built pages are: dist/ui, under the repository when this runs from its sources (the
 * tests), beside the compiled code otherwise. Never ui/ itself: its index.html is the source.
 */
export function uiDirectory(): string | null {
  for (const rel of ['../../../dist/ui/', '../../../ui/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(`${dir}index.html`) && existsSync(`${dir}assets`)) return dir;
  }
  return null;
}

function isUiPathname(path: string): boolean {
  return path === UI_PREFIX || path.startsWith(`${UI_PREFIX}/`);
}

/** Whether a request is for the dashboard (a page, its assets, its sign-in). */
export function isUiPath(req: IncomingMessage): boolean {
  return isUiPathname((req.url ?? '').split('?')[0]);
}

/** A path to go back to after signing in: one of the dashboard's, nothing else. */
function safeNext(next: string | null): string {
  return next !== null && isUiPathname(next) ? next : `${UI_PREFIX}/`;
}

const escapeHtml = (s: string): string =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

/** The sign-in page: a form and nothing of the history. */
function signInPage(next: string, failed: boolean): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>mnsim: sign in</title><link rel="icon" href="data:,">
<style>body{font:15px system-ui,sans-serif;background:#f6f7f9;color:#1d2330;display:grid;place-items:center;height:100vh;margin:0}
form{background:#fff;border:1px solid #d9dde5;border-radius:8px;padding:24px 28px;min-width:320px}
h1{font-size:18px;margin:0 0 12px}label{display:block;margin:12px 0 4px}input{width:100%;box-sizing:border-box;padding:7px;font:inherit}
button{margin-top:14px;padding:7px 16px;font:inherit}.err{color:#b42318}</style></head>
<body><form method="post" action="${UI_PREFIX}/session">
<h1>mnsim</h1><p>This server needs its API token (MNSIM_API_TOKEN).</p>
${failed ? '<p class="err" role="alert">That token is not this server\'s.</p>' : ''}
<label for="token">API token</label><input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<input type="hidden" name="next" value="${escapeHtml(next)}">
<button type="submit">Sign in</button>
<p><small>It is kept for this browser session only.</small></p></form></body></html>`;
}

function sendSignIn(res: ServerResponse, next: string, failed: boolean): void {
  res.statusCode = 401;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(signInPage(next, failed));
}

/** Reads a small urlencoded form body; null when it is larger than the limit. */
async function formBody(req: IncomingMessage): Promise<URLSearchParams | null> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > SIGN_IN_BODY_LIMIT) return null;
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/**
 * The gate of the dashboard's requests when a token is set: the sign-in form's POST, sign-out,
 * the built assets (they hold no data), and a page for a signed-in browser; any other page is the
 * sign-in form.
 */
export function uiSession(
  token: string,
  checkToken: (presented: string) => boolean,
  hasSession: (req: IncomingMessage) => boolean,
) {
  const setCookie = `${SESSION_COOKIE}=${sessionValue(token)}; Path=/; HttpOnly; SameSite=Strict`;
  return (req: IncomingMessage, res: ServerResponse, next: Next): void => {
    const url = new URL(req.url ?? '/', 'http://mnsim');
    if (url.pathname === `${UI_PREFIX}/session` && req.method === 'POST') {
      formBody(req).then(
        (form) => {
          const target = safeNext(form?.get('next') ?? null);
          const presented = form?.get('token') ?? '';
          if (!checkToken(presented)) return sendSignIn(res, target, true);
          res.statusCode = 303;
          res.setHeader('Set-Cookie', setCookie);
          res.setHeader('Location', target);
          res.end();
        },
        (err: unknown) => next(err),
      );
      return;
    }
    if (url.pathname === `${UI_PREFIX}/sign-out`) {
      res.statusCode = 303;
      res.setHeader(
        'Set-Cookie',
        `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`,
      );
      res.setHeader('Location', `${UI_PREFIX}/`);
      res.end();
      return;
    }
    if (hasSession(req)) return next();
    // the built scripts and styles hold no data; the pages do not load without a session
    if (url.pathname.startsWith(`${UI_PREFIX}/assets/`)) return next();
    sendSignIn(res, url.pathname + url.search, false);
  };
}

/** Every dashboard page, in Express 5's path syntax: /ui and anything under it. */
const UI_PAGE = `${UI_PREFIX}{/*rest}`;

/**
 * GET / goes to the dashboard; /ui/assets/* are the built files (named by their content, so
 * cached for good); any other /ui path is the page shell, which routes in the browser.
 */
export function mountUi(app: NestExpressApplication): void {
  const dir = uiDirectory();
  const http: Express = app.getHttpAdapter().getInstance();
  http.get('/', (_req: Request, res: Response) => res.redirect(302, `${UI_PREFIX}/`));
  if (dir === null) {
    http.get(UI_PAGE, (_req: Request, res: Response) => {
      res
        .status(503)
        .type('text/plain')
        .send('the dashboard is not built: run `npm run build` (it builds ui/ into dist/ui)\n');
    });
    return;
  }
  app.useStaticAssets(`${dir}assets`, {
    prefix: `${UI_PREFIX}/assets/`,
    immutable: true,
    maxAge: '1y',
    index: false,
  });
  // an asset that is not there is not a page: 404, not the shell
  http.get(`${UI_PREFIX}/assets{/*rest}`, (_req: Request, res: Response) => {
    res.status(404).type('text/plain').send('no such asset\n');
  });
  const shell = readFileSync(`${dir}index.html`);
  http.get(UI_PAGE, (_req: Request, res: Response) => {
    res.status(200).type('html').set('Cache-Control', 'no-store').send(shell);
  });
}
