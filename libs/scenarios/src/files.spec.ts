import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScenarioError } from './errors.js';
import { FileTooLargeError, loadScenarioFile, readBounded, resolveScenario } from './files.js';

/** A sparse file of `bytes`: no disk used, and nothing to read but zeros. */
function sparse(path: string, bytes: number): string {
  const fd = openSync(path, 'w');
  try {
    ftruncateSync(fd, bytes);
  } finally {
    closeSync(fd);
  }
  return path;
}

function refusal(load: () => unknown): ScenarioError {
  try {
    load();
  } catch (e) {
    expect(e).toBeInstanceOf(ScenarioError);
    return e as ScenarioError;
  }
  throw new Error('the file was read');
}

// issue 15, finding 5: the 16 MiB cap was checked after reading the file, so a 1.5 GB sparse
// file cost 20 s and 2.2 GB of memory before exit 2
describe('scenario files are bounded before they are read', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mnsim-files-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a 1.5 GB sparse file is refused by its size at once', () => {
    const file = sparse(join(dir, 'big.yaml'), 1.5 * 1024 ** 3);
    const rss = process.memoryUsage().rss;
    const t0 = performance.now();
    for (const load of [() => resolveScenario(file), () => loadScenarioFile(file)]) {
      const err = refusal(load);
      expect(err.message).toBe(`${file}: file is larger than 16MiB (1610612736 bytes)`);
      expect(err.exitCode).toBe(2);
    }
    expect(performance.now() - t0).toBeLessThan(500);
    expect(process.memoryUsage().rss - rss).toBeLessThan(64 * 1024 ** 2);
  });

  it('one byte past 16 MiB is refused, by its size', () => {
    const file = sparse(join(dir, 'just-over.yaml'), 16 * 1024 ** 2 + 1);
    expect(refusal(() => loadScenarioFile(file)).message).toBe(
      `${file}: file is larger than 16MiB (16777217 bytes)`,
    );
  });

  it('a FIFO is refused at once, without waiting for a writer', () => {
    const fifo = join(dir, 'pipe.yaml');
    execFileSync('mkfifo', [fifo]);
    expect(refusal(() => resolveScenario(fifo)).message).toBe(
      `${fifo}: cannot read the scenario file: not a regular file`,
    );
  });

  it('a directory says so', () => {
    const sub = join(dir, 'sub.yaml');
    mkdirSync(sub);
    expect(refusal(() => resolveScenario(sub)).message).toBe(
      `${sub}: cannot read the scenario file: is a directory, not a scenario file`,
    );
  });

  it('reading stops one byte past the cap, whatever the file does meanwhile', () => {
    // a device that never ends stands for a file that grows while it is read
    const fd = openSync('/dev/zero', 'r');
    try {
      expect(() => readBounded(fd, 3 * 1024 * 1024)).toThrow(FileTooLargeError);
    } finally {
      closeSync(fd);
    }
    const small = openSync(sparse(join(dir, 'small'), 1000), 'r');
    try {
      expect(readBounded(small, 1000)).toHaveLength(1000);
    } finally {
      closeSync(small);
    }
  });
});
