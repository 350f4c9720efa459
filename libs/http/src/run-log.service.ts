/**
 * GET /runs/:id/log: a completed run's log file, as `mnsim export` writes it, compressed as the
 * client asked (brotli, gzip or none).
 *
 * A completed run's log never changes (its logHash says so), so its answer is kept, compressed, in
 * a cache of bounded bytes: a run's page opened again costs a copy, where the first answer reads
 * the store, checks every line against the logHash and compresses (about 0.17 s for a run of
 * 11,000 events). The first answer streams as the log is read; its bytes are kept only once it
 * has ended whole, so a log found damaged mid-stream is never served again from the cache. The
 * ETag (the logHash and the encoding) lets a browser revalidate a log it has: 304, no body.
 */
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { constants, createBrotliCompress, createGzip } from 'node:zlib';
import { Injectable, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { LRUCache } from 'lru-cache';
import { RecordedRun } from '@mnsim/engine';
import type { Store } from '@mnsim/store';
import { NDJSON } from './http-middleware.js';
import { InjectStore } from './store.provider.js';

/** What the answer may be compressed with, best first. */
const ENCODINGS = ['br', 'gzip'] as const;
type Encoding = (typeof ENCODINGS)[number] | 'identity';

/** The compressed logs kept: at most this many bytes in all, and a log past a quarter is not. */
export const LOG_CACHE_BYTES = 64 * 1024 * 1024;

/** Characters of log text per chunk written (one write per line would be slow). */
const CHUNK_CHARS = 16 * 1024;

@Injectable()
export class RunLogService {
  private readonly logger = new Logger('mnsim-api');
  private readonly cache = new LRUCache<string, Buffer>({
    maxSize: LOG_CACHE_BYTES,
    maxEntrySize: LOG_CACHE_BYTES / 4,
    sizeCalculation: (b) => Math.max(1, b.length),
  });

  constructor(@InjectStore() private readonly store: Store) {}

  /**
   * Answers `req` with the log of the run `idOrPrefix`.
   * @throws as RecordedRun.open (ofRow), before anything is sent: 404 no such run, 400 an ambiguous
   *   prefix, 409 a run that is not completed or was observed (it has no log)
   */
  async send(idOrPrefix: string, req: Request, res: Response): Promise<void> {
    const accepted = req.acceptsEncodings([...ENCODINGS]);
    const encoding: Encoding = accepted === false ? 'identity' : (accepted as Encoding);
    // a log answered before needs its row only: not the run.start, whose scenario open() checks
    const runId = await this.store.resolveRunId(idOrPrefix);
    const row = await this.store.getRun(runId);
    if (row?.status === 'completed' && row.logHash !== null && row.origin !== 'observed') {
      if (this.answered(req, res, row.runId, row.logHash, encoding)) return;
    }
    const run = await RecordedRun.ofRow(this.store, runId, row, 'export');
    if (this.answered(req, res, run.runId, run.logHash, encoding)) return;
    const key = cacheKey(run.runId, run.logHash, encoding);
    setLogHeaders(res, etagOf(run.logHash, encoding), encoding);
    const kept: Buffer[] = [];
    let keptBytes = 0;
    const keep = async function* (chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
      for await (const chunk of chunks) {
        if (keptBytes <= LOG_CACHE_BYTES / 4) {
          kept.push(chunk);
          keptBytes += chunk.length;
        }
        yield chunk;
      }
    };
    const text = Readable.from(textChunks(run.fileLines()), { objectMode: false });
    // the answer begins now, whatever the compressor holds back: a failure past this point is a
    // transfer that ends unfinished, as for any streamed answer, whatever the encoding
    res.flushHeaders();
    try {
      if (encoding === 'identity') {
        await pipeline(text, (s: AsyncIterable<string>) => keep(asBuffers(s)), res);
      } else {
        await pipeline(text, compressor(encoding), keep, res);
      }
    } catch (err) {
      // a client gone is no failure of ours; a log found damaged (or a store that failed) is:
      // the transfer ends unfinished (pipeline destroyed the answer), never as a shorter log
      if ((err as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') {
        this.logger.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
      }
      return;
    }
    if (keptBytes <= LOG_CACHE_BYTES / 4) this.cache.set(key, Buffer.concat(kept, keptBytes));
  }

  /**
   * Answers from what is known already, and says so: 304 for the client's own copy, or the kept
   * bytes. Otherwise it leaves the answer untouched (an error may still be its to send).
   */
  private answered(
    req: Request,
    res: Response,
    runId: string,
    logHash: string,
    encoding: Encoding,
  ): boolean {
    const etag = etagOf(logHash, encoding);
    if (ifNoneMatch(req, etag)) {
      setLogHeaders(res, etag, encoding);
      res.status(304).end();
      return true;
    }
    const cached = this.cache.get(cacheKey(runId, logHash, encoding));
    if (cached === undefined) return false;
    setLogHeaders(res, etag, encoding);
    res.setHeader('Content-Length', String(cached.length));
    res.end(cached);
    return true;
  }
}

const etagOf = (logHash: string, encoding: Encoding): string =>
  `"${logHash.replace(/^sha256:/, '')}.${encoding}"`;

function setLogHeaders(res: Response, etag: string, encoding: Encoding): void {
  res.setHeader('Content-Type', NDJSON);
  res.setHeader('Vary', 'Accept-Encoding');
  res.setHeader('ETag', etag);
  // each use revalidates (a log behind a token is the browser's own); and the compression
  // middleware leaves the answer as it is
  res.setHeader('Cache-Control', 'private, no-cache, no-transform');
  if (encoding !== 'identity') res.setHeader('Content-Encoding', encoding);
}

const cacheKey = (runId: string, logHash: string, encoding: Encoding): string =>
  `${runId}\u0000${logHash}\u0000${encoding}`;

/** As the compression middleware compresses (brotli quality 4, gzip's default level). */
function compressor(encoding: Exclude<Encoding, 'identity'>) {
  return encoding === 'br'
    ? createBrotliCompress({ params: { [constants.BROTLI_PARAM_QUALITY]: 4 } })
    : createGzip();
}

/** Whether the client's If-None-Match names `etag` (or is `*`). */
function ifNoneMatch(req: Request, etag: string): boolean {
  const header = req.headers['if-none-match'];
  if (header === undefined) return false;
  return header
    .split(',')
    .map((t) => t.trim().replace(/^W\//, ''))
    .some((t) => t === etag || t === '*');
}

async function* asBuffers(chunks: AsyncIterable<string>): AsyncGenerator<Buffer> {
  for await (const chunk of chunks) yield Buffer.from(chunk, 'utf8');
}

/** Lines as text, each ending in a newline, CHUNK_CHARS or so at a time. */
async function* textChunks(lines: AsyncIterable<string>): AsyncGenerator<string> {
  let pending = '';
  for await (const line of lines) {
    pending += line + '\n';
    if (pending.length >= CHUNK_CHARS) {
      yield pending;
      pending = '';
    }
  }
  if (pending !== '') yield pending;
}
