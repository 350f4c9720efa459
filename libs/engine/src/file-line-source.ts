/**
 * The fast way through a log file for verify-mode replay: its event lines compared synchronously (so
 * the synchronous simulate() can compare each event it emits with the recorded one as it goes,
 * without buffering either side), while a worker thread hashes the same lines on the other core.
 *
 * When every re-executed line equals its recorded line, the lines' SHA-256 is the replay's logHash
 * too, so the main thread never hashes: it only simulates, encodes and compares.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

/** The event lines of a log, compared synchronously with the lines they should be. */
export interface SyncLineSource {
  /**
   * Feeds the lines the log should hold (without "\n"), in order: false as soon as a compared
   * byte differs (the comparison runs in batches, so a difference may show a few lines late).
   * The recorded bytes are compared as they are, never decoded.
   */
  expectLine(line: string): boolean;
  /** After the last expectLine: whether the log held exactly the expected lines, no more. */
  expectEnd(): boolean;
  /** SHA-256 and count of the event lines, computed off the main thread. */
  readonly digest: Promise<LinesDigest>;
  /** Releases the file; the digest still settles. */
  close(): void;
}

export interface LinesDigest {
  /** `sha256:<hex>` over every line after the header followed by "\n", as logHash is defined */
  logHash: string;
  /** the lines after the header (a format 2 log's definitions and events) */
  lines: number;
}

/** The file could not be read as lines (one too long): the checked path names the line. */
export class SyncSourceError extends Error {}

const BLOCK_BYTES = 8 << 20;

/**
 * The worker: SHA-256 of everything after the header line, a "\n" added after a last line that
 * lacks one (logHash hashes every line followed by "\n"), and the number of lines. Kept as source
 * text so it runs the same from dist/ and from the TypeScript sources under test, and it needs
 * nothing but node's own modules.
 */
const HASH_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { openSync, readSync, closeSync } = require('node:fs');
const { createHash } = require('node:crypto');
const fd = openSync(workerData.file, 'r');
try {
  const buf = Buffer.allocUnsafe(${BLOCK_BYTES});
  const hash = createHash('sha256');
  let inHeader = true;
  let lines = 0;
  let last = 10;
  for (;;) {
    const n = readSync(fd, buf, 0, buf.length, null);
    if (n === 0) break;
    let from = 0;
    if (inHeader) {
      const nl = buf.subarray(0, n).indexOf(10);
      if (nl === -1) continue;
      inHeader = false;
      from = nl + 1;
    }
    const block = buf.subarray(from, n);
    for (let i = block.indexOf(10); i !== -1; i = block.indexOf(10, i + 1)) lines++;
    if (block.length > 0) {
      hash.update(block);
      last = block[block.length - 1];
    }
  }
  if (last !== 10) {
    hash.update('\\n');
    lines++;
  }
  parentPort.postMessage({ logHash: 'sha256:' + hash.digest('hex'), lines });
} finally {
  closeSync(fd);
}
`;

function hashLinesInWorker(file: string): Promise<LinesDigest> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(HASH_WORKER, { eval: true, workerData: { file } });
    worker.once('message', (d: LinesDigest) => resolve(d));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`log hash worker exited with code ${code}`));
    });
  });
}

/**
 * Opens `file` (an mnsim-log: a header line, then event lines) for a synchronous pass over its
 * event lines, and starts hashing them in a worker thread.
 * @param maxLineBytes a longer header line ends the pass with an error (the event lines are
 *   compared in batches whose size the expected lines set, never read whole)
 */
export function openSyncLineSource(file: string, maxLineBytes: number): SyncLineSource {
  const digest = hashLinesInWorker(file);
  // a rejection is the caller's to see when it awaits; never an unhandled one meanwhile
  digest.catch(() => undefined);
  const fd = openSync(file, 'r');
  let open = true;
  let buf = Buffer.allocUnsafe(BLOCK_BYTES);
  let pos = 0;
  let end = 0;
  let eof = false;

  /** Reads until `n` bytes are buffered from `pos` or the file ends; how many are. */
  const ensure = (n: number): number => {
    while (end - pos < n && !eof) {
      if (pos > 0) {
        buf.copyWithin(0, pos, end);
        end -= pos;
        pos = 0;
      }
      if (buf.length < n) {
        const bigger = Buffer.allocUnsafe(Math.max(n, buf.length * 2));
        buf.copy(bigger, 0, 0, end);
        buf = bigger;
      }
      const read = readSync(fd, buf, end, buf.length - end, null);
      if (read === 0) eof = true;
      end += read;
    }
    return Math.min(n, end - pos);
  };

  // The expected lines are gathered into batches of about a megabyte and compared with one
  // memcmp per batch.
  let same = true;
  let batch = Buffer.allocUnsafe(2 << 20);
  let batched = 0;
  const compare = (final: boolean): void => {
    if (!same || batched === 0) return;
    let n = batched;
    batched = 0;
    const have = ensure(n);
    // the log's last line may lack its "\n"
    if (final && have === n - 1 && eof && batch[n - 1] === 10) n--;
    if (have < n || buf.compare(batch, 0, n, pos, pos + n) !== 0) same = false;
    pos += n;
  };

  const expectLine = (line: string): boolean => {
    if (!same) return false;
    // a UTF-16 code unit is at most 3 bytes of UTF-8
    const most = line.length * 3 + 1;
    if (batched + most > batch.length) {
      compare(false);
      if (most > batch.length) batch = Buffer.allocUnsafe(most);
    }
    batched += batch.write(line, batched, 'utf8');
    batch[batched++] = 10;
    return same;
  };

  const expectEnd = (): boolean => {
    compare(true);
    return same && ensure(1) === 0;
  };

  /** Skips the header line (LogFile.open has read and checked it). */
  const skipHeader = (): void => {
    for (;;) {
      const nl = buf.indexOf(10, pos);
      if (nl !== -1 && nl < end) {
        pos = nl + 1;
        return;
      }
      if (eof) {
        pos = end; // a header without "\n": no events
        return;
      }
      if (end - pos >= maxLineBytes) {
        throw new SyncSourceError(`line longer than ${maxLineBytes} bytes`);
      }
      ensure(end - pos + BLOCK_BYTES);
    }
  };

  skipHeader();
  return {
    expectLine,
    expectEnd,
    digest,
    close: () => {
      if (open) closeSync(fd);
      open = false;
    },
  };
}
