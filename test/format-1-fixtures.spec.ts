/**
 * Logs exported before log format 2 (test/fixtures/format-1: four built-ins and a generated run,
 * version 1, one whole event a line) still import: each is checked against its own logHash,
 * stored as the format 2 log it converts to, replays as a match, and exports with --expand to the
 * very bytes it was imported from.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulate } from '@mnsim/engine';
import { resolveScenario } from '@mnsim/scenarios';
import { main } from '../apps/cli/src/cli.js';
import { type CliOutcome, captureOutput } from './cli-output.js';

const mnsim = (...args: string[]): Promise<CliOutcome> => captureOutput(() => main(args));

const FIXTURES = join(import.meta.dirname, 'fixtures', 'format-1');
/**
 * Logs of runs the model has since changed: they still import and export as they were, and a
 * replay names the first event that differs and the findings the model adds now.
 * - Every OOM: 5.8's dump_header prints no "<comm> cpuset=/ mems_allowed=0" line (cpuset and
 *   mems_allowed are only in the oom-kill: summary), and lockdep names kvm->mmu_lock's class
 *   "&kvm->mmu_lock" (spin_lock_init stringifies its argument), which every context holding it
 *   carries: no finding changes.
 * - userptr-eagain's reaper skips KVM's range_end on each of its 10 tries: ten
 *   notifier-imbalance findings, recorded since.
 */
const MODEL_CHANGED: Record<string, { added: string[] }> = {
  'oom-reap-arm64-5.8.jsonl': { added: [] },
  'oom-reap-powerpc-book3s-hv-5.8.jsonl': { added: [] },
  'oom-reap-x86-5.8+flags.jsonl': { added: [] },
  'userptr-eagain-arm64-5.8+fix.jsonl': {
    added: Array.from({ length: 10 }, () => 'notifier-imbalance'),
  },
};
const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.jsonl'));

describe('format 1 logs exported before format 2', () => {
  let dir: string;
  const saved = { ...process.env };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mnsim-format-1-'));
    for (const k of Object.keys(process.env)) if (k.startsWith('MNSIM_')) delete process.env[k];
    process.env.MNSIM_SQLITE_PATH = join(dir, 'store.sqlite');
  });
  afterAll(() => {
    process.env = { ...saved };
    rmSync(dir, { recursive: true, force: true });
  });

  it('are five, each of version 1', () => {
    expect(files).toHaveLength(5);
    for (const f of files) {
      const header = JSON.parse(readFileSync(join(FIXTURES, f), 'utf8').split('\n')[0]);
      expect(header, f).toMatchObject({ format: 'mnsim-log', version: 1 });
    }
  });

  it.each(files)('%s: imports, replays as a match, and exports back byte for byte', async (f) => {
    const file = join(FIXTURES, f);
    const original = readFileSync(file, 'utf8');
    const header = JSON.parse(original.split('\n')[0]) as {
      runId: string;
      scenario: string;
      kernel: '5.8' | '5.8+flags' | '5.8+fix';
      events: number;
    };
    const imported = await mnsim('import', file, '--json');
    expect(imported.code, imported.err).toBe(0);
    const run = JSON.parse(imported.out) as { logHash: string; events: number };
    expect(run.events).toBe(header.events);
    // the run's logHash is its format 2 log's: what the engine gives a built-in run today
    const changed = MODEL_CHANGED[f];
    if (!f.startsWith('fuzz-') && !changed) {
      const { scenario } = resolveScenario(header.scenario);
      expect(run.logHash).toBe(simulate(scenario, { kernel: header.kernel }).logHash);
    }

    const replayed = await mnsim('replay', header.runId, '--json');
    if (changed) {
      expect(replayed.code, replayed.err).toBe(1);
      const r = JSON.parse(replayed.out) as {
        matches: boolean;
        expectedLogHash: string;
        firstDivergence: { seq: number } | null;
        violationsDiff: { added: { kind: string }[]; removed: unknown[] };
      };
      expect(r).toMatchObject({ matches: false, expectedLogHash: run.logHash });
      expect(r.firstDivergence?.seq).toBeGreaterThan(0);
      expect(r.violationsDiff.removed).toEqual([]);
      expect(r.violationsDiff.added.map((v) => v.kind)).toEqual(changed.added);
    } else {
      expect(replayed.code, replayed.err).toBe(0);
      expect(JSON.parse(replayed.out)).toMatchObject({ matches: true, logHash: run.logHash });
    }

    const back = join(dir, `back-${f}`);
    expect((await mnsim('export', header.runId, '--expand', '-o', back)).code).toBe(0);
    expect(readFileSync(back, 'utf8')).toBe(original);
    const compact = join(dir, `compact-${f}`);
    expect((await mnsim('export', header.runId, '-o', compact)).code).toBe(0);
    const bytes = readFileSync(compact).length;
    expect(bytes).toBeLessThan(Buffer.byteLength(original));
  });
});
