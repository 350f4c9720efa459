/**
 * An embedded `mnsim run` loads what it needs and nothing of the cluster: no Nest, no BullMQ, no
 * ioredis, no express (issue "One runtime"). The packages it loads are read from a module resolve
 * hook in the real process, started from the build.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildDist } from './distributed/processes.js';

const ROOT = join(import.meta.dirname, '..');
let dir: string;

beforeAll(() => {
  buildDist();
  dir = mkdtempSync(join(tmpdir(), 'mnsim-loads-'));
  writeFileSync(
    join(dir, 'hooks.mjs'),
    `import { appendFileSync } from 'node:fs';
let file;
export function initialize(data) { file = data.file; }
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (r.url.includes('/node_modules/')) appendFileSync(file, r.url + '\\n');
  return r;
}
`,
  );
  writeFileSync(
    join(dir, 'register.mjs'),
    `import { register } from 'node:module';
register(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)}, { data: { file: process.env.LOADS_FILE } });
`,
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** the packages a command loads, by name */
function packagesLoadedBy(...args: string[]): Set<string> {
  const file = join(dir, `loads-${args[0]}.txt`);
  writeFileSync(file, '');
  execFileSync(
    process.execPath,
    ['--import', join(dir, 'register.mjs'), join(ROOT, 'dist/apps/cli/src/main.js'), ...args],
    {
      env: { PATH: process.env.PATH, LOADS_FILE: file, MNSIM_SQLITE_PATH: join(dir, 's.sqlite') },
      stdio: 'pipe',
    },
  );
  return new Set(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((url) => /\/node_modules\/((@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? url),
  );
}

it('an embedded mnsim run loads neither Nest, BullMQ, ioredis nor express', () => {
  const loaded = packagesLoadedBy('run', 'oom-reap-arm64', '--json');
  // what it does need: the store, the scenario format, the CLI
  for (const needed of ['better-sqlite3', 'typeorm', 'yaml', 'zod', 'commander']) {
    expect(loaded).toContain(needed);
  }
  const cluster = [...loaded].filter((p) =>
    /^(@nestjs\/|bullmq$|ioredis$|express$|@nestjs$)/.test(p),
  );
  expect(cluster).toEqual([]);
});

it('mnsim scenarios loads no store either', () => {
  const loaded = packagesLoadedBy('scenarios');
  expect([...loaded].filter((p) => /^(typeorm|better-sqlite3|pg|bullmq|ioredis)$/.test(p))).toEqual(
    [],
  );
});
