/** The benchmark's settings (bench/src/args.ts): a wrong value is one line naming it. */
import { describe, expect, it } from 'vitest';
import {
  BENCH_PARTS,
  BenchArgError,
  benchParts,
  envWholeNumber,
  wholeNumber,
} from '../bench/src/args.js';

describe('bench settings', () => {
  it('reads whole numbers in range, trimmed', () => {
    expect(wholeNumber('--runs', '1000', 1, 1_000_000)).toBe(1000);
    expect(wholeNumber('--seed', ' 0 ', 0, 10)).toBe(0);
    expect(envWholeNumber({}, 'MNSIM_BENCH_DIST_ROUNDS', 2, 1, 100)).toBe(2);
    expect(
      envWholeNumber({ MNSIM_BENCH_DIST_ROUNDS: ' ' }, 'MNSIM_BENCH_DIST_ROUNDS', 2, 1, 100),
    ).toBe(2);
    expect(
      envWholeNumber({ MNSIM_BENCH_DIST_ROUNDS: '5' }, 'MNSIM_BENCH_DIST_ROUNDS', 2, 1, 100),
    ).toBe(5);
  });

  it.each(['abc', '1.5', '-1', '0', '101', '1e2', ''])('refuses %j, naming the setting', (v) => {
    const read = (): number =>
      v === ''
        ? wholeNumber('MNSIM_BENCH_DIST_ROUNDS', v, 1, 100)
        : envWholeNumber({ MNSIM_BENCH_DIST_ROUNDS: v }, 'MNSIM_BENCH_DIST_ROUNDS', 2, 1, 100);
    expect(read).toThrow(BenchArgError);
    expect(read).toThrow(
      `MNSIM_BENCH_DIST_ROUNDS must be a whole number from 1 to 100, got ${JSON.stringify(v)}`,
    );
  });

  it('takes the parts --only names, all of them by default, and refuses others', () => {
    expect([...benchParts(undefined)]).toEqual([...BENCH_PARTS]);
    expect([...benchParts('replay, query')]).toEqual(['replay', 'query']);
    expect(() => benchParts('distributed,replays')).toThrow(
      '--only takes embedded, distributed, recovery, replay, query, api, triage, ui (comma-separated), got "replays"',
    );
    expect(new BenchArgError('x').exitCode).toBe(2);
  });
});
