import { fileURLToPath } from 'node:url';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

const lib = (name: string): string =>
  fileURLToPath(new URL(`./libs/${name}/src/index.ts`, import.meta.url));

export default defineConfig({
  // SWC instead of esbuild: Nest and TypeORM need emitDecoratorMetadata.
  plugins: [swc.vite({ module: { type: 'es6' } })],
  resolve: {
    alias: [
      'errors',
      'config',
      'kernel',
      'events',
      'runtime',
      'bus',
      'store',
      'scenarios',
      'engine',
      'runs',
      'http',
      'triage',
    ].map((name) => ({
      find: `@mnsim/${name}`,
      replacement: lib(name),
    })),
  },
  test: {
    include: ['libs/**/*.spec.ts', 'apps/**/*.spec.ts', 'test/**/*.spec.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // two files at a time (vitest's default is one on two cores): the process tests wait on their
    // clusters more than they compute, and the suite must stay well within its ten minutes
    maxWorkers: 2,
    // each worker keeps its modules from one file to the next: the files share Nest, TypeORM,
    // BullMQ and the libs, whose loading took 180 s of the suite's worker time when every file
    // loaded them anew (11 s instead for the libs, apps, oracles, replay and api files). Nothing
    // here mocks modules, and each test restores what it changes of the process.
    isolate: false,
  },
});
