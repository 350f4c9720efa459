import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OutputFileError, writeFileAtomically } from './output-file.js';

describe('writeFileAtomically (issue 15, finding 4)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mnsim-out-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the lines, replacing what was there, and leaves nothing beside it', async () => {
    const file = join(dir, 'x.jsonl');
    writeFileSync(file, 'old\n');
    const big = 'y'.repeat(300_000);
    await writeFileAtomically(file, async (out) => {
      for (let i = 0; i < 10; i++) await out.line(`${i}${big}`);
    });
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines).toHaveLength(11);
    expect(lines[9]).toBe(`9${big}`);
    expect(readdirSync(dir)).toEqual(['x.jsonl']);
  });

  it('a failure half-way leaves the old file as it was and no partial file', async () => {
    const file = join(dir, 'x.jsonl');
    writeFileSync(file, 'old\n');
    const failure = new Error('the store went away');
    const big = 'y'.repeat(1 << 20);
    await expect(
      writeFileAtomically(file, async (out) => {
        await out.line(big); // a chunk is on disk by now
        await out.line(big);
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(readFileSync(file, 'utf8')).toBe('old\n');
    expect(readdirSync(dir)).toEqual(['x.jsonl']);
  });

  it.each([
    ['/nonexistent/d/x.jsonl', 'no such directory'],
    ['{dir}', 'is a directory'],
    ['{dir}/file/x.jsonl', 'a part of the path is not a directory'],
  ])('%s cannot be written: exit 2, "%s"', async (path, reason) => {
    writeFileSync(join(dir, 'file'), '');
    mkdirSync(join(dir, 'sub'));
    const file = path.replace('{dir}', dir);
    let called = false;
    const err: unknown = await writeFileAtomically(file, () => {
      called = true;
      return Promise.resolve();
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutputFileError);
    expect((err as OutputFileError).exitCode).toBe(2);
    expect((err as Error).message).toBe(`cannot write ${file}: ${reason}`);
    expect(called).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(['file', 'sub']);
  });
});
