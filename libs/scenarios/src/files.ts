/**
 * Scenario files on disk: a user's file, or a built-in from the repository's `scenarios/` folder.
 */
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  openSync,
  readdirSync,
  readSync,
  statSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Scenario } from '@mnsim/kernel';
import { ScenarioError, UnknownScenarioError } from './errors.js';
import { parseScenario } from './parse.js';
import { MAX_SOURCE_BYTES } from './yaml-source.js';

const BUILTIN_NAME = /^[a-z0-9-]+$/;
const YAML_EXT = /\.ya?ml$/;

let repoRoot: string | undefined;

/**
 * The repository root: the first directory up from this module holding both `scenarios/` and
 * `package.json` — libs/scenarios/src under vitest, dist/libs/scenarios/src once compiled.
 */
export function findRepoRoot(): string {
  if (repoRoot !== undefined) return repoRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (isDirectory(join(dir, 'scenarios')) && existsSync(join(dir, 'package.json'))) {
      repoRoot = dir;
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(
        `mnsim: cannot find the built-in scenarios: no directory above ${fileURLToPath(import.meta.url)} holds scenarios/ and package.json`,
      );
    }
    dir = parent;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The folder of the built-in scenario files. */
export function builtinScenarioDir(): string {
  return join(findRepoRoot(), 'scenarios');
}

function builtinFile(name: string): string | undefined {
  if (!BUILTIN_NAME.test(name)) return undefined;
  let dir: string;
  try {
    dir = builtinScenarioDir();
  } catch {
    return undefined; // an installation without built-ins still runs scenario files
  }
  const file = join(dir, `${name}.yaml`);
  return isFile(file) ? file : undefined;
}

/** The file is too large: its size, or what was read before reading stopped. */
export class FileTooLargeError extends Error {}

/**
 * Reads at most `maxBytes` bytes from an open file, whatever it is: a file that grows while it is
 * read, or a device that never ends, stops one byte past the limit.
 * @throws FileTooLargeError past `maxBytes`
 */
export function readBounded(fd: number, maxBytes: number): Buffer {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const chunk = Buffer.allocUnsafe(Math.min(1 << 20, maxBytes + 1 - total));
    const n = readSync(fd, chunk, 0, chunk.length, null);
    if (n === 0) break;
    chunks.push(chunk.subarray(0, n));
    total += n;
    if (total > maxBytes) throw new FileTooLargeError(`more than ${maxBytes} bytes`);
  }
  return Buffer.concat(chunks, total);
}

const MIB = 1024 * 1024;

/**
 * A scenario file's text. Its size is checked before anything is read (a 1.5 GB sparse file is
 * refused at once), and reading stops past the cap whatever the file does meanwhile. Only a
 * regular file is read: opening does not wait for a FIFO's writer (O_NONBLOCK), and fstat of the
 * open file, not a stat of its name, says what it is.
 */
function readText(path: string): string {
  const fail = (why: string): ScenarioError =>
    new ScenarioError(path, '', `cannot read the scenario file: ${why}`);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw fail(
      err.code === 'ENOENT'
        ? 'no such file'
        : err.code === 'EACCES'
          ? 'permission denied'
          : (err.code ?? err.message),
    );
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw fail('is a directory, not a scenario file');
    if (!st.isFile()) throw fail('not a regular file');
    const tooLarge = (size: string): ScenarioError =>
      new ScenarioError(path, '', `file is larger than ${MAX_SOURCE_BYTES / MIB}MiB (${size})`);
    if (st.size > MAX_SOURCE_BYTES) throw tooLarge(`${st.size} bytes`);
    try {
      return readBounded(fd, MAX_SOURCE_BYTES).toString('utf8');
    } catch (e) {
      if (e instanceof FileTooLargeError) throw tooLarge(`${e.message}, it grew while read`);
      throw fail((e as NodeJS.ErrnoException).code ?? (e as Error).message);
    }
  } finally {
    closeSync(fd);
  }
}

/** Read and parse one scenario file (synchronously); errors name `path` as given. */
export function loadScenarioFile(path: string): Scenario {
  return parseScenario(readText(path), path);
}

function builtinNames(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => basename(f, '.yaml'))
    .filter((name) => BUILTIN_NAME.test(name))
    .sort();
}

/** The built-in scenarios, sorted by name, with their one- or two-sentence descriptions. */
export function listBuiltinScenarios(): { name: string; description: string; file: string }[] {
  const dir = builtinScenarioDir();
  return builtinNames(dir).map((name) => {
    const file = join(dir, `${name}.yaml`);
    return { name, description: loadScenarioFile(file).description, file };
  });
}

/**
 * A scenario argument as the CLI and the API take it: the name of a built-in (`oom-reap-arm64`), or
 * a path to a scenario file. A bare name is a built-in first; anything with a `/` or a .yaml/.yml
 * ending is a path. `source` is the file's text (to store with a run), `file` its absolute path.
 * @throws ScenarioError for an invalid file, UnknownScenarioError when there is nothing to load
 */
export function resolveScenario(nameOrPath: string): {
  scenario: Scenario;
  source: string;
  file: string;
} {
  const looksLikePath =
    nameOrPath.includes('/') || nameOrPath.includes('\\') || YAML_EXT.test(nameOrPath);
  const builtin = looksLikePath ? undefined : builtinFile(nameOrPath);
  if (builtin !== undefined) {
    const source = readText(builtin);
    return { scenario: parseScenario(source, builtin), source, file: builtin };
  }
  // anything there is read, so that a FIFO or a directory says what it is
  if (existsSync(nameOrPath)) {
    const source = readText(nameOrPath);
    return { scenario: parseScenario(source, nameOrPath), source, file: resolve(nameOrPath) };
  }
  throw new UnknownScenarioError(nameOrPath, listBuiltinNames());
}

function listBuiltinNames(): string[] {
  try {
    return builtinNames(builtinScenarioDir());
  } catch {
    return [];
  }
}
