import { describe, expect, it } from 'vitest';
import { CanonicalEncodingError, canonicalJson } from './canonical.js';
import { canonicalEventLine, canonicalEventLineFromPayload, logHashOf } from './log.js';
import { childId, stepId } from './ids.js';

describe('canonicalJson', () => {
  it.each([
    [{ b: 1, a: 2 }, '{"a":2,"b":1}'],
    [{ z: { y: 1, x: [3, { d: 1, c: 2 }] } }, '{"z":{"x":[3,{"c":2,"d":1}],"y":1}}'],
    [{ a: undefined, b: null }, '{"b":null}'],
    [[undefined, 1], '[null,1]'],
    [-0, '0'],
    [{ '\u00e9': 1, e: 2, E: 3 }, '{"E":3,"e":2,"é":1}'],
    ['line\nbreak "quoted"', '"line\\nbreak \\"quoted\\""'],
  ])('%j encodes as %s', (value, expected) => {
    expect(canonicalJson(value)).toBe(expected);
  });

  it.each([NaN, Infinity, -Infinity])('refuses the non-finite number %s', (n) => {
    expect(() => canonicalJson({ a: n })).toThrow(CanonicalEncodingError);
    expect(() => canonicalJson([n])).toThrow(CanonicalEncodingError);
  });
});

describe('the canonical log line and logHash', () => {
  const e = {
    causationId: 's0',
    id: 's0.1',
    jiffies: 5,
    payload: { b: 2, a: 1 },
    seq: 3,
    type: 'call' as const,
  };

  it('does not depend on how the payload was encoded', () => {
    expect(canonicalEventLineFromPayload(e, canonicalJson(e.payload))).toBe(canonicalEventLine(e));
    expect(canonicalEventLine(e)).toBe(
      '{"causationId":"s0","id":"s0.1","jiffies":5,"payload":{"a":1,"b":2},"seq":3,"type":"call"}',
    );
  });

  it('is SHA-256 over the lines, each followed by a newline', () => {
    expect(logHashOf([])).toBe(
      'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    // printf 'a\nb\n' | sha256sum
    expect(logHashOf(['a', 'b'])).toBe(
      'sha256:911169ddaaf146aff539f58c26c489af3b892dff0fe283c1c264c65ae5aa59a2',
    );
  });

  it('derives ids from causation only', () => {
    expect(childId(stepId(4), 2)).toBe('s4.2');
    expect(childId(childId('run', 0), 11)).toBe('run.0.11');
  });
});
