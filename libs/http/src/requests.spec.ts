import { describe, expect, it } from 'vitest';
import {
  MAX_SCENARIO_DEPTH,
  MAX_YAML_BYTES,
  createRunBody,
  depthOf,
  violationsQuery,
} from './requests.js';
import { parseSince } from '@mnsim/runs';

describe('parseSince', () => {
  const now = new Date('2026-11-25T12:00:00.000Z');

  it.each([
    ['30s', '2026-11-25T11:59:30.000Z'],
    ['30m', '2026-11-25T11:30:00.000Z'],
    ['12h', '2026-11-25T00:00:00.000Z'],
    ['7d', '2026-11-18T12:00:00.000Z'],
    ['2w', '2026-11-11T12:00:00.000Z'],
    ['2026-11-20', '2026-11-20T00:00:00.000Z'],
    ['2026-11-20T10:00Z', '2026-11-20T10:00:00.000Z'],
    ['2026-11-20T10:00:05.5+01:00', '2026-11-20T09:00:05.500Z'],
  ])('%s', (text, iso) => {
    expect(parseSince(text, now)?.toISOString()).toBe(iso);
  });

  // issue 15: 999999999w was an Invalid Date, and the 400 said "invalid timestamp 'Invalid Date'"
  it.each(['999999999w', '99999999d', '2920000w', '2900000d'])(
    '%s reaches back before 1970: the epoch, everything',
    (text) => {
      expect(parseSince(text, now)?.toISOString()).toBe('1970-01-01T00:00:00.000Z');
    },
  );

  it.each([
    'yesterday',
    '12',
    '7 d',
    '-1h',
    '1y',
    '2026-13-01',
    '2026-11-20 10:00',
    'Tue Nov 24 2026',
    '',
  ])('refuses %j', (text) => {
    expect(parseSince(text, now)).toBeNull();
  });
});

describe('the request schemas refuse what the store cannot take', () => {
  // found by the hostile-requests property: comm=oom_reaper%00 reached Postgres, which refuses a
  // NUL in a parameter, and answered 500
  it.each(['oom_reaper\x00', 'a\nb', '\x1b[2J'])('a filter with control characters: %j', (comm) => {
    const r = violationsQuery.safeParse({ comm });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0].message).toBe('must not hold control characters');
  });

  it('a scenario object nested deeper than any scenario', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 3500; i++) deep = { a: deep };
    const r = createRunBody.safeParse({ scenario: { name: deep } });
    expect(r.success).toBe(false);
    expect(depthOf({ name: deep }, MAX_SCENARIO_DEPTH)).toBeGreaterThan(MAX_SCENARIO_DEPTH);
    expect(
      createRunBody.safeParse({ scenario: { processes: [{ vms: [{ memslots: [{}] }] }] } }).success,
    ).toBe(true);
  });

  it('a YAML text past 128 KiB, pointing at the JSON form', () => {
    const r = createRunBody.safeParse({ yaml: `# ${'x'.repeat(MAX_YAML_BYTES)}` });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0].message).toMatch(
      /^must be at most 128 KiB: send a larger scenario as a JSON object/,
    );
  });
});
