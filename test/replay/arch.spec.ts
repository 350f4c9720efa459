/**
 * Counterfactual replay on another architecture: the recorded stimuli with host.arch changed,
 * where the scenario allows. Only arm64 reschedules inside kvm_unmap_hva_range at 5.8
 * (reference §5.5), so moving the arm64 OOM to any other arch removes every violation.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARCHES } from '@mnsim/kernel';
import { LogFile, recordLogFile, replayLog } from '@mnsim/engine';
import { resolveScenario } from '@mnsim/scenarios';

describe('replay --arch', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mnsim-arch-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const record = async (name: string, kernel: '5.8' | '5.8+fix' = '5.8'): Promise<LogFile> => {
    const file = join(dir, `${name}-${kernel}.jsonl`);
    await recordLogFile(resolveScenario(name).scenario, file, {
      kernel,
      runId: `${name}-${kernel}`,
    });
    return LogFile.open(file);
  };

  it.each(ARCHES.filter((a) => a !== 'arm64'))(
    'the arm64 OOM replayed on %s loses every violation and gains none',
    async (arch) => {
      const log = await record('oom-reap-arm64');
      const { mode, arch: on, report } = await replayLog(log, undefined, arch);
      expect(mode).toBe('counterfactual');
      expect(on).toBe(arch);
      expect(report.kernel).toBe('5.8');
      expect(report.violations).toEqual([]);
      expect(report.violationsDiff.added).toEqual([]);
      expect(report.violationsDiff.removed).toHaveLength(2);
      expect(report.matches).toBe(false);
    },
  );

  it('an x86 OOM replayed on arm64 5.8 gains the violations; on arm64 5.8+fix none', async () => {
    const log = await record('oom-reap-x86');
    const buggy = await replayLog(log, '5.8', 'arm64');
    expect(buggy.report.violationsDiff.removed).toEqual([]);
    expect(buggy.report.violationsDiff.added.length).toBeGreaterThan(0);
    expect(
      buggy.report.violationsDiff.added.every((v) => v.site === 'arch/arm64/kvm/mmu.c:394'),
    ).toBe(true);
    const fixed = await replayLog(log, '5.8+fix', 'arm64');
    expect(fixed.report.violationsDiff.added).toEqual([]);
  });

  it('refuses an arch the scenario cannot run on, naming the field and the reason', async () => {
    const log = await record('oom-reap-arm64-16k');
    await expect(replayLog(log, undefined, 'x86')).rejects.toThrow(
      'oom-reap-arm64-16k on x86: host.pageSize: page size 16KiB is not available on x86 (allowed: 4KiB)',
    );
  });

  it('the recorded arch is verify mode', async () => {
    const log = await record('oom-reap-arm64');
    const { mode, report } = await replayLog(log, undefined, 'arm64');
    expect(mode).toBe('verify');
    expect(report.matches).toBe(true);
  });
});
