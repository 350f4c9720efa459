/**
 * A run's canonical log: each event without its runId and wall clock, canonically encoded, one
 * per line; `logHash` is the SHA-256 of those lines, each followed by "\n".
 */
import { createHash, type Hash } from 'node:crypto';
import { canonicalJson } from './canonical.js';
import type { CanonicalEvent } from './types.js';

/** The canonical line of one event (no trailing newline). */
export function canonicalEventLine(e: CanonicalEvent): string {
  return canonicalJson({
    causationId: e.causationId,
    id: e.id,
    jiffies: e.jiffies,
    payload: e.payload,
    seq: e.seq,
    type: e.type,
  });
}

/** Builds the line from an already-encoded payload, without re-encoding it. */
export function canonicalEventLineFromPayload(
  e: Omit<CanonicalEvent, 'payload'>,
  payload: string,
): string {
  return (
    `{"causationId":${e.causationId === null ? 'null' : JSON.stringify(e.causationId)},` +
    `"id":${JSON.stringify(e.id)},"jiffies":${e.jiffies},"payload":${payload},` +
    `"seq":${e.seq},"type":${JSON.stringify(e.type)}}`
  );
}

/** Streaming SHA-256 over canonical lines; stages small lines into larger updates. */
export class LogHasher {
  private readonly hash: Hash = createHash('sha256');
  private readonly stage = Buffer.allocUnsafe(64 * 1024);
  private staged = 0;

  /** Adds a line (without its "\n"); returns its length in UTF-8 bytes. */
  update(line: string): number {
    const most = line.length * 3 + 1; // a UTF-16 code unit is at most 3 bytes of UTF-8
    if (this.staged + most > this.stage.length) this.flush();
    if (most > this.stage.length) {
      this.hash.update(line + '\n');
      return Buffer.byteLength(line);
    }
    const bytes = this.stage.write(line, this.staged, 'utf8');
    this.staged += bytes;
    this.stage[this.staged++] = 10;
    return bytes;
  }

  /** Adds a line given as the first `length` UTF-8 bytes of `bytes` (without its "\n"). */
  updateBytes(bytes: Buffer, length: number): void {
    if (this.staged + length + 1 > this.stage.length) this.flush();
    if (length + 1 > this.stage.length) {
      this.hash.update(bytes.subarray(0, length));
      this.hash.update('\n');
      return;
    }
    this.staged += bytes.copy(this.stage, this.staged, 0, length);
    this.stage[this.staged++] = 10;
  }

  private flush(): void {
    if (this.staged > 0) this.hash.update(this.stage.subarray(0, this.staged));
    this.staged = 0;
  }

  digest(): string {
    this.flush();
    return `sha256:${this.hash.digest('hex')}`;
  }
}

export function logHashOf(lines: Iterable<string>): string {
  const h = new LogHasher();
  for (const l of lines) h.update(l);
  return h.digest();
}
