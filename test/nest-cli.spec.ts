/**
 * nest-cli.json, as design.md lays the monorepo out: one project per directory of apps/
 * (applications) and libs/ (libraries), nothing else, each where it is. `nest start <app>` runs
 * join(outDir, sourceRoot, entryFile): that must be the file `npm run build` writes, the one the
 * cluster script and docker-compose.yml start.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');

interface Project {
  type: 'application' | 'library';
  root: string;
  sourceRoot: string;
  entryFile: string;
  compilerOptions?: { tsConfigPath?: string };
}

const json = <T>(file: string): T => JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as T;
const nestCli = json<{
  monorepo: boolean;
  root: string;
  compilerOptions: { tsConfigPath: string };
  projects: Record<string, Project>;
}>('nest-cli.json');
const build = json<{ compilerOptions: { outDir: string } }>(nestCli.compilerOptions.tsConfigPath);
const paths = json<{ compilerOptions: { paths: Record<string, string[]> } }>('tsconfig.json')
  .compilerOptions.paths;

const dirs = (parent: string): string[] =>
  readdirSync(join(ROOT, parent), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
const APPS = dirs('apps');
const LIBS = dirs('libs');

describe('nest-cli.json', () => {
  it('is a monorepo of every app and lib, nothing else, the api the default project', () => {
    expect(nestCli.monorepo).toBe(true);
    expect(nestCli.root).toBe('apps/api');
    expect(Object.keys(nestCli.projects).sort()).toEqual([...APPS, ...LIBS].sort());
  });

  it.each(APPS)('app %s: nest start runs the entry file npm run build writes', (app) => {
    const p = nestCli.projects[app];
    expect(p).toMatchObject({ type: 'application', root: `apps/${app}` });
    expect(existsSync(join(ROOT, p.sourceRoot, `${p.entryFile}.ts`))).toBe(true);
    const tsConfig = p.compilerOptions?.tsConfigPath ?? nestCli.compilerOptions.tsConfigPath;
    expect(tsConfig).toBe('tsconfig.build.json');
    const started = join(build.compilerOptions.outDir, p.sourceRoot, `${p.entryFile}.js`);
    expect(started).toBe(`dist/apps/${app}/src/main.js`);
    expect(existsSync(join(ROOT, started)), `${started} (npm ci builds it)`).toBe(true);
  });

  it.each(LIBS)('lib %s: its entry file is what @mnsim/%s resolves to', (lib) => {
    const p = nestCli.projects[lib];
    expect(p).toMatchObject({ type: 'library', root: `libs/${lib}` });
    expect(paths[`@mnsim/${lib}`]).toEqual([`./${p.sourceRoot}/${p.entryFile}.ts`]);
    expect(existsSync(join(ROOT, p.sourceRoot, `${p.entryFile}.ts`))).toBe(true);
  });
});
