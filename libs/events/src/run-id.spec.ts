import { describe, expect, it } from 'vitest';
import { RUN_ID_PATTERN, isRunId } from './run-id.js';

describe('run ids', () => {
  it.each(['f3b1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d', 'run-1', 'r', '1', 'a.b_c-d', 'x'.repeat(100)])(
    '%j is a run id',
    (id) => {
      expect(isRunId(id)).toBe(true);
    },
  );

  it.each([
    '',
    'x'.repeat(101),
    'a:b', // BullMQ job ids cannot hold ':'
    '.',
    '..',
    '-rf',
    '_x',
    'a b',
    'a/b',
    'FORGED\x1b[0m\nmnsim: imported run FORGED',
    'café',
  ])('%j is not', (id) => {
    expect(isRunId(id)).toBe(false);
    expect(RUN_ID_PATTERN.test(id)).toBe(false);
  });
});
