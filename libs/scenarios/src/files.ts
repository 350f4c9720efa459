/**
 * Scenario files on disk: a user's file, or a built-in from the repository's `scenarios/` folder.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Scenario } from '../../kernel/src/model/scenario.js';
import { ScenarioError, UnknownScenarioError } from './errors.js';
import { parseScenario } from './parse.js';

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

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why =
      err.code === 'ENOENT'
        ? 'no such file'
        : err.code === 'EISDIR'
          ? 'is a directory, not a scenario file'
          : err.code === 'EACCES'
            ? 'permission denied'
            : err.message;
    throw new ScenarioError(path, '', `cannot read the scenario file: ${why}`);
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
  if (isFile(nameOrPath)) {
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
