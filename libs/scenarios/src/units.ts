/**
 * Sizes and addresses as scenario files write them. Both end up as a number of bytes; every result
 * is a non-negative safe integer, so the kernel model can do exact arithmetic on it.
 */

import { describeValue } from './errors.js';

const KiB = 1024;

/** The only units a size may carry: binary, case-sensitive, as the kernel's own messages print them. */
const SIZE_UNITS: Readonly<Record<string, number>> = {
  KiB,
  MiB: KiB ** 2,
  GiB: KiB ** 3,
  TiB: KiB ** 4,
};

const SIZE_RE = /^(\d+)\s*([A-Za-z]+)?$/;
const DECIMAL_RE = /^\d+$/;
const HEX_RE = /^0x[0-9a-fA-F]+$/;

/** Thrown by parseSize / parseAddress; `message` is the reason, fit to follow a field path. */
export class UnitError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'UnitError';
  }
}

function checkedInteger(v: number, what: string): number {
  if (!Number.isInteger(v))
    throw new UnitError(`${what} must be a whole number of bytes, got ${v}`);
  if (v < 0) throw new UnitError(`${what} must not be negative, got ${v}`);
  if (!Number.isSafeInteger(v)) {
    throw new UnitError(`${what} must be below 2^53 (a safe integer), got ${v}`);
  }
  return v;
}

function fromBigInt(v: bigint, what: string, text: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new UnitError(`${what} must be below 2^53 (a safe integer), got ${JSON.stringify(text)}`);
  }
  return Number(v);
}

function unitReason(unit: string): string {
  const lower = unit.toLowerCase();
  const prefix = lower[0]?.toUpperCase() ?? '';
  if (/^[kmgt](b|ib)?$/.test(lower)) {
    const suggestion = `${prefix}iB`;
    const decimal = /^[kmgt]b$/.test(lower)
      ? `; ${unit} would be ambiguous (powers of 1000 or of 1024)`
      : '';
    return `size unit "${unit}" is not accepted: use ${suggestion} (units are KiB, MiB, GiB, TiB, powers of 1024)${decimal}`;
  }
  return `unknown size unit "${unit}": use KiB, MiB, GiB or TiB, or a plain number of bytes`;
}

/**
 * A size in bytes: a non-negative integer, or a string such as "3GiB", "512 MiB", "4KiB", "4096"
 * or "0x1000". Units are KiB, MiB, GiB and TiB only; "GB", "mb" and friends are rejected.
 */
export function parseSize(v: unknown): number {
  if (typeof v === 'number') return checkedInteger(v, 'size');
  if (typeof v !== 'string') {
    throw new UnitError(`expected a size such as 4096 or "3GiB", got ${describeValue(v)}`);
  }
  const text = v.trim();
  if (text === '')
    throw new UnitError('expected a size such as 4096 or "3GiB", got an empty string');
  if (HEX_RE.test(text)) return fromBigInt(BigInt(text), 'size', text);
  const m = SIZE_RE.exec(text);
  if (!m) {
    if (/^\d*\.\d+\s*[A-Za-z]*$/.test(text)) {
      throw new UnitError(
        `size ${JSON.stringify(v)} is not a whole number: write it in a smaller unit (e.g. 1536MiB, not 1.5GiB)`,
      );
    }
    if (/^-/.test(text)) throw new UnitError(`size must not be negative, got ${JSON.stringify(v)}`);
    throw new UnitError(`expected a size such as 4096 or "3GiB", got ${JSON.stringify(v)}`);
  }
  const digits = m[1];
  const unit = m[2];
  let multiplier = 1;
  if (unit !== undefined) {
    const known = SIZE_UNITS[unit];
    if (known === undefined) throw new UnitError(unitReason(unit));
    multiplier = known;
  }
  return fromBigInt(BigInt(digits) * BigInt(multiplier), 'size', text);
}

/**
 * An address in bytes: a non-negative integer (YAML already reads 0x40000000 as one), or a string
 * holding a hex ("0x40000000") or decimal ("1073741824") number.
 */
export function parseAddress(v: unknown): number {
  if (typeof v === 'number') return checkedInteger(v, 'address');
  if (typeof v === 'string') {
    const text = v.trim();
    if (HEX_RE.test(text) || DECIMAL_RE.test(text)) {
      return fromBigInt(BigInt(text), 'address', text);
    }
    throw new UnitError(
      `expected an address such as 0x40000000 or 1073741824, got ${JSON.stringify(v)}`,
    );
  }
  throw new UnitError(`expected an address such as 0x40000000, got ${describeValue(v)}`);
}

/** "3GiB", "512MiB", "4KiB" or "1000" (bytes): the largest binary unit that divides the size. */
export function formatSize(bytes: number): string {
  for (const [unit, factor] of Object.entries(SIZE_UNITS).reverse()) {
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return String(bytes);
}

/** An address as the kernel prints it: lower-case hex with 0x. */
export function formatAddress(addr: number): string {
  return `0x${addr.toString(16)}`;
}
