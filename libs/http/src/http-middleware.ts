/**
 * The plain HTTP middleware in front of the Nest router. Two run before the body is parsed
 * (authentication) or right after it (body errors), which Nest guards and filters cannot: an
 * unauthenticated client must not make the server read its body, and a body the parser refused
 * never reaches a route. The third compresses what the routes answer.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import compression from 'compression';
import { errorBody } from './error-body.js';
import { isUiPath, sessionCheck, uiSession } from './ui.js';

type Next = (err?: unknown) => void;

function sendError(res: ServerResponse, status: number, message: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(errorBody(status, message)));
}

const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/**
 * The routes that answer without a token: a liveness probe, and / (a redirect to the dashboard),
 * carry no secret.
 */
function isPublic(req: IncomingMessage): boolean {
  const path = (req.url ?? '').split('?')[0];
  return (req.method === 'GET' || req.method === 'HEAD') && (path === '/health' || path === '/');
}

/** Whether `presented` is the token, compared in constant time. */
export function tokenCheck(token: string): (presented: string) => boolean {
  const expected = sha256(token);
  return (presented) => timingSafeEqual(sha256(presented), expected);
}

/**
 * `Authorization: Bearer <token>` (or the dashboard's session cookie) on every request but the
 * public ones; 401 otherwise. The dashboard's own pages are gated by its sign-in (ui.ts). Both sides
 * are hashed first, so timingSafeEqual compares equal lengths and the time taken says nothing about
 * the token, not even its length.
 */
export function bearerAuth(token: string) {
  const isToken = tokenCheck(token);
  const hasSession = sessionCheck(token);
  const pages = uiSession(token, isToken, hasSession);
  return (req: IncomingMessage, res: ServerResponse, next: Next): void => {
    if (isPublic(req)) return next();
    // the dashboard's pages: signed in with a session cookie, or the sign-in form (ui.ts)
    if (isUiPath(req)) return pages(req, res, next);
    // what those pages ask of the API comes with that cookie
    if (hasSession(req)) return next();
    const header = req.headers.authorization;
    const presented = header === undefined ? null : /^Bearer +(\S+) *$/i.exec(header)?.[1];
    if (presented && isToken(presented)) return next();
    res.setHeader('WWW-Authenticate', 'Bearer realm="mnsim"');
    sendError(
      res,
      401,
      header === undefined
        ? 'this API needs an Authorization: Bearer <token> header (MNSIM_API_TOKEN)'
        : 'invalid bearer token',
    );
  };
}

interface BodyParserError {
  status?: unknown;
  type?: unknown;
}

/** Errors of the JSON body parser as the API's JSON errors: 413, 400, 415 with a reason. */
export function bodyErrors(limitBytes: number) {
  return (err: unknown, _req: IncomingMessage, res: ServerResponse, next: Next): void => {
    const e = (err ?? {}) as BodyParserError;
    const status = typeof e.status === 'number' ? e.status : 0;
    if (status < 400 || status >= 500 || res.headersSent) return next(err);
    switch (e.type) {
      case 'entity.too.large':
        return sendError(res, 413, `request body larger than ${limitBytes} bytes`);
      case 'entity.parse.failed':
        return sendError(res, 400, 'request body is not valid JSON');
      case 'charset.unsupported':
      case 'encoding.unsupported':
        return sendError(res, 415, 'request body must be JSON in UTF-8, uncompressed or gzip');
      default:
        return sendError(res, status, 'the request body could not be read');
    }
  };
}

/** JSON Lines: a log file, as GET /runs/:id/log answers it. */
export const NDJSON = 'application/x-ndjson';

function isNdjson(res: ServerResponse): boolean {
  const type = res.getHeader('Content-Type');
  return typeof type === 'string' && type.split(';')[0].trim().toLowerCase() === NDJSON;
}

/**
 * gzip for the clients that say they take it (Accept-Encoding): what compression's own list calls
 * compressible (JSON, text), and JSON Lines, which that list does not name. A streamed answer is
 * compressed as it is written.
 */
export function compressAnswers() {
  return compression({
    filter: (req, res) => isNdjson(res) || compression.filter(req, res),
  });
}
