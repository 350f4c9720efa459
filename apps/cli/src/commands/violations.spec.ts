/**
 * `mnsim violations --since`: a duration that reaches back before 1970 means everything (issue 15:
 * `--since 999999999w` was an invalid date, and the store refused it with "invalid timestamp
 * 'Invalid Date'").
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RunEvent, Violation } from '@mnsim/events';
import { openStore, type Store } from '@mnsim/store';
import { TestLogs } from '../../../../libs/store/src/test-events.js';
import { EXIT_OK } from '../errors.js';
import { parseSinceOption, violationsCommand } from './violations.js';

const NOW = new Date('2026-11-25T12:00:00.000Z');

/** a run with one violation, recorded now */
async function recordOneViolation(store: Store): Promise<void> {
  const labels = { scenario: 'oom-reap-arm64', kernel: '5.8', arch: 'arm64' };
  await store.createRun({ runId: 'r-since', ...labels, seed: 1 });
  const payload = { seq: 0 };
  const event: RunEvent = {
    runId: 'r-since',
    id: 'run',
    seq: 0,
    type: 'violation',
    causationId: null,
    jiffies: 0,
    payload,
    recordedAt: new Date().toISOString(),
  };
  const v: Violation = {
    seq: 0,
    kind: 'atomic-sleep',
    jiffies: 0,
    site: 'arch/arm64/kvm/mmu.c:394',
    inAtomic: 1,
    irqsDisabled: 0,
    nonBlock: 1,
    pid: 36,
    comm: 'oom_reaper',
    reported: true,
    signature: 'BUG: sleeping function called from invalid context in unmap_stage2_range',
    stack: ['___might_sleep', 'unmap_stage2_range'],
    text: 'BUG: sleeping function called from invalid context at arch/arm64/kvm/mmu.c:394',
  };
  await store.appendEvents(
    'r-since',
    [new TestLogs().toAppend(event)],
    [{ eventId: 'run', v, ...labels }],
  );
}

describe('mnsim violations --since', () => {
  it.each([
    ['7d', '2026-11-18T12:00:00.000Z'],
    ['999999999w', '1970-01-01T00:00:00.000Z'],
    ['99999999999999999999d', '1970-01-01T00:00:00.000Z'],
    ['2920000w', '1970-01-01T00:00:00.000Z'],
  ])('%s is %s', (text, iso) => {
    expect(parseSinceOption(text, NOW).toISOString()).toBe(iso);
  });

  describe('through the command', () => {
    let dir: string | null = null;
    afterEach(() => {
      vi.restoreAllMocks();
      if (dir) rmSync(dir, { recursive: true, force: true });
      dir = null;
    });

    it('--since 999999999w lists every violation', async () => {
      dir = mkdtempSync(join(tmpdir(), 'mnsim-since-'));
      const sqlitePath = join(dir, 'mnsim.sqlite');
      const store = await openStore({ sqlitePath });
      try {
        await recordOneViolation(store);
      } finally {
        await store.close();
      }
      const out: string[] = [];
      vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
        out.push(String(chunk));
        return true;
      });
      const code = await violationsCommand(
        { since: '999999999w', json: true, limit: 10 },
        { store: { sqlitePath }, redisUrl: null },
      );
      expect(code).toBe(EXIT_OK);
      const rows = JSON.parse(out.join('')) as { runId: string; comm: string }[];
      expect(rows).toMatchObject([{ runId: 'r-since', comm: 'oom_reaper' }]);
    });
  });
});
