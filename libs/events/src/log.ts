/**
 * A run's canonical log: each event without its runId and wall clock, canonically encoded, one
 * per line; `logHash` is the SHA-256 of those lines, each followed by "\n".
 */
import { createHash, type Hash } from 'node:crypto';
import { canonicalJson } from './canonical.js';
import type { RunEvent } from './types.js';

export type CanonicalEvent = Omit<RunEvent, 'runId' | 'recordedAt'>;

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

/** Streaming SHA-256 over canonical lines; buffers small lines into larger updates. */
export class LogHasher {
  private readonly hash: Hash = createHash('sha256');
  private buffer = '';

  update(line: string): void {
    this.buffer += line + '\n';
    if (this.buffer.length > 64 * 1024) this.flush();
  }

  private flush(): void {
    if (this.buffer.length > 0) this.hash.update(this.buffer);
    this.buffer = '';
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
