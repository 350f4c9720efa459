/**
 * The canonical encoding written straight into a byte buffer: no intermediate strings, so encoding
 * an event allocates nothing and the bytes can be hashed, compared with a recorded log or decoded
 * once. Same bytes as {@link canonicalJson} (keys in code-point order, no whitespace, canonical
 * numbers, undefined members dropped); a value whose shape it does not take directly (an object
 * with keys out of order, a class instance) is handed to canonicalJson and its text written.
 */
import { CanonicalEncodingError, canonicalJson } from './canonical.js';

/** Encoded bytes of the short strings that recur: keys, function names, addresses, frames. */
const quotedBytes = new Map<string, Uint8Array>();
const QUOTED_CACHE_LIMIT = 8192;

export class CanonicalWriter {
  buf: Buffer;
  pos = 0;

  constructor(size = 1 << 16) {
    this.buf = Buffer.allocUnsafe(size);
  }

  reset(): void {
    this.pos = 0;
  }

  /** The bytes written since `from`, as a string. */
  text(from = 0): string {
    return this.buf.toString('utf8', from, this.pos);
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  /** The first `n` bytes of `b` as they are (an encoding made earlier). */
  bytes(b: Uint8Array, n = b.length): void {
    this.room(n);
    const buf = this.buf;
    let p = this.pos;
    if (n > 32) buf.set(b, p);
    else for (let i = 0; i < n; i++) buf[p + i] = b[i];
    p += n;
    this.pos = p;
  }

  /** Text that needs no escaping, written as it is: punctuation and keys of the encoders. */
  ascii(s: string): void {
    const n = s.length;
    this.room(n);
    const buf = this.buf;
    const p = this.pos;
    for (let i = 0; i < n; i++) buf[p + i] = s.charCodeAt(i);
    this.pos = p + n;
  }

  byte(c: number): void {
    this.room(1);
    this.buf[this.pos++] = c;
  }

  /** A JSON string. */
  string(s: string): void {
    const n = s.length;
    this.room(n + 2);
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = 0x22;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      // control characters, '"', '\' and anything beyond ASCII: JSON.stringify knows the rules
      if (c < 0x20 || c === 0x22 || c === 0x5c || c > 0x7e) {
        this.utf8(JSON.stringify(s));
        return;
      }
      buf[p++] = c;
    }
    buf[p++] = 0x22;
    this.pos = p;
  }

  /** A JSON string remembered as bytes: for the identifiers that recur. */
  quoted(s: string): void {
    let q = quotedBytes.get(s);
    if (q === undefined) {
      q = Buffer.from(JSON.stringify(s), 'utf8');
      if (quotedBytes.size < QUOTED_CACHE_LIMIT) quotedBytes.set(s, q);
    }
    this.bytes(q);
  }

  /** Any text, UTF-8 encoded. */
  utf8(s: string): void {
    this.room(s.length * 3);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** A number as JSON writes it (-0 is 0); String() of a number is its JSON text, and fast. */
  number(v: number): void {
    if (!Number.isFinite(v)) throw new CanonicalEncodingError(`non-finite number ${v}`);
    this.ascii(v === 0 ? '0' : String(v));
  }

  boolean(b: boolean): void {
    if (typeof b !== 'boolean')
      throw new CanonicalEncodingError(`expected a boolean, got ${typeof b}`);
    this.ascii(b ? 'true' : 'false');
  }

  /** Any value, canonically. */
  value(v: unknown): void {
    switch (typeof v) {
      case 'string':
        this.string(v);
        return;
      case 'number':
        this.number(v);
        return;
      case 'boolean':
        this.ascii(v ? 'true' : 'false');
        return;
      case 'object':
        if (v === null) this.ascii('null');
        else if (Array.isArray(v)) this.array(v);
        else this.object(v);
        return;
      default:
        this.utf8(canonicalJson(v)); // throws the encoding's own error
    }
  }

  private array(a: readonly unknown[]): void {
    this.byte(0x5b);
    for (let i = 0; i < a.length; i++) {
      if (i > 0) this.byte(0x2c);
      const item = a[i];
      if (item === undefined) this.ascii('null');
      else this.value(item);
    }
    this.byte(0x5d);
  }

  /** A plain object whose keys are already in order, in one pass; otherwise canonicalJson. */
  private object(o: object): void {
    const start = this.pos;
    if (Object.getPrototypeOf(o) !== Object.prototype) {
      this.utf8(canonicalJson(o));
      return;
    }
    this.byte(0x7b);
    let prev = '';
    let keys = 0;
    for (const k in o) {
      if (keys++ > 0 && k <= prev) {
        this.pos = start; // keys out of order: start again with the sorting encoder
        this.utf8(canonicalJson(o));
        return;
      }
      prev = k;
      const v = (o as Record<string, unknown>)[k];
      if (v === undefined) continue;
      if (this.pos > start + 1) this.byte(0x2c);
      this.quoted(k);
      this.byte(0x3a);
      this.value(v);
    }
    this.byte(0x7d);
  }
}

/** Versions of EncodingSlot contents: never reused, so one names one encoding of one slot. */
let nextSlotVersion = 1;

/**
 * An encoding kept for reuse: its bytes in a buffer of its own, overwritten in place when it is
 * replaced (so a cache miss allocates nothing), and a version that changes with it.
 */
export class EncodingSlot {
  private bytes = Buffer.allocUnsafe(256);
  private length = -1;
  /**
   * changes whenever the slot takes a new encoding, to a value no slot has had: compare versions,
   * not bytes (0: empty)
   */
  version = 0;

  get empty(): boolean {
    return this.length < 0;
  }

  /** Takes what the writer wrote from `start` to its position. */
  take(w: CanonicalWriter, start: number): void {
    const n = w.pos - start;
    if (n > this.bytes.length) this.bytes = Buffer.allocUnsafe(n * 2);
    w.buf.copy(this.bytes, 0, start, w.pos);
    this.length = n;
    this.version = nextSlotVersion++;
  }

  writeTo(w: CanonicalWriter): void {
    w.bytes(this.bytes, this.length);
  }
}
