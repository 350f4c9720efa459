/** `mnsim export --format perfetto`, end to end on a SQLite store, in-process like cli.spec.ts. */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CliOutcome, captureOutput } from '../../../test/cli-output.js';
import { checkPerfettoTrace, expectOomReapArm64 } from '../../../test/perfetto-check.js';
import { main } from './cli.js';

const mnsim = (...args: string[]): Promise<CliOutcome> => captureOutput(() => main(args));

describe('mnsim export --format perfetto', () => {
  let dir: string;
  const saved = { ...process.env };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mnsim-perfetto-'));
    delete process.env.MNSIM_REDIS_URL;
    delete process.env.MNSIM_DATABASE_URL;
    process.env.MNSIM_SQLITE_PATH = join(dir, 'store.sqlite');
  });

  afterEach(() => {
    process.env = { ...saved };
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes a stored oom-reap-arm64 run as a trace: the reaper, its calls and its two BUGs', async () => {
    const run = JSON.parse((await mnsim('run', 'oom-reap-arm64', '--json')).out);
    const file = join(dir, 'f.json');
    const r = await mnsim('export', run.runId, '--format', 'perfetto', '-o', file);
    expect(r.code).toBe(0);
    expect(r.out).toBe('');
    expect(r.err).toBe(`mnsim: exported ${run.events} events of run ${run.runId} to ${file}\n`);
    const text = readFileSync(file, 'utf8');
    const t = checkPerfettoTrace(text);
    expectOomReapArm64(t);
    expect(t.doc.otherData).toMatchObject({ runId: run.runId, logHash: run.logHash, seed: 1 });
    expect(readdirSync(dir).filter((f) => f.startsWith('.f.json'))).toEqual([]); // no temporary left

    // standard output gets the same document
    const out = await mnsim('export', run.runId.slice(0, 8), '--format', 'perfetto');
    expect(out.code).toBe(0);
    expect(out.out).toBe(text);
  });

  it.each([
    [
      ['--format', 'chrome'],
      "mnsim: --format 'chrome' is not a format: expected jsonl or perfetto\n",
    ],
    [
      ['--format', 'perfetto', '--expand'],
      'mnsim: --expand writes the log in format 1: it goes with --format jsonl only\n',
    ],
  ])('%j: exit 2 with one line, nothing written', async (args, line) => {
    const file = join(dir, 'f.json');
    const r = await mnsim('export', 'any', ...args, '-o', file);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toBe(line);
    expect(readdirSync(dir).filter((f) => f.includes('f.json'))).toEqual([]);
  });
});
