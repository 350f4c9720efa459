import { describe, expect, it } from 'vitest';
import { CanonicalEncodingError } from './canonical.js';
import { reference } from './canonical.reference.js';
import { CanonicalWriter } from './canonical-writer.js';

function written(v: unknown, size?: number): string {
  const w = new CanonicalWriter(size);
  w.value(v);
  return w.text();
}

class Point {
  constructor(
    readonly y: number,
    readonly x: number,
  ) {}
}

describe('CanonicalWriter', () => {
  it.each([
    0,
    -0,
    7,
    -7,
    10,
    1234567890,
    -1234567890123,
    Number.MAX_SAFE_INTEGER,
    Number.MIN_SAFE_INTEGER,
    2 ** 53 + 2,
    1.5,
    -0.1,
    1e21,
    1e-7,
    5e-324,
    Number.MAX_VALUE,
  ])('writes the number %s as JSON does', (n) => {
    expect(written(n)).toBe(reference(n));
  });

  it.each([
    '',
    'plain',
    'quote " and backslash \\',
    'new\nline\ttab\u0001',
    'é and 日本 and 😀',
    '\ud800 lone surrogate',
    '\u007f delete',
  ])('writes the string %j as JSON does', (s) => {
    expect(written(s)).toBe(reference(s));
    expect(written({ [s]: s })).toBe(reference({ [s]: s }));
  });

  it.each([
    [{ a: 1, b: [true, false, null, 'x'], c: { d: {} } }],
    [{ b: 1, a: 2 }],
    [{ z: { y: 1, x: [3, { d: 1, c: 2 }] }, a: 0 }],
    [{ a: undefined, b: null, c: undefined }],
    [{ b: undefined, a: 1 }],
    [[undefined, 1, [], {}]],
    [{ p: new Point(2, 1) }],
    [{ '\u00e9': 1, e: 2, E: 3 }],
  ])('writes %j in canonical form', (v) => {
    expect(written(v)).toBe(reference(v));
  });

  it('grows its buffer as needed', () => {
    const big = { list: Array.from({ length: 5000 }, (_, i) => ({ i, s: 'x'.repeat(i % 50) })) };
    expect(written(big, 16)).toBe(reference(big));
  });

  it.each([NaN, Infinity, -Infinity])('refuses the non-finite number %s', (n) => {
    expect(() => written({ a: n })).toThrow(CanonicalEncodingError);
    expect(() => written([1.5, n])).toThrow(CanonicalEncodingError);
  });

  it('refuses what JSON cannot hold', () => {
    expect(() => written({ f: () => 1 })).toThrow(CanonicalEncodingError);
    expect(() => written(10n)).toThrow(CanonicalEncodingError);
  });
});
