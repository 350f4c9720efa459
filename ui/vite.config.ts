/**
 * The dashboard's build: ui/ into dist/ui, served by `mnsim serve` under /ui (libs/http's ui.ts).
 * Preact's JSX runtime comes from tsconfig.json's jsxImportSource. The libraries' pure modules it
 * imports (the log expander of libs/events) name the kernel model by its package name, which
 * resolves as tsconfig.json's paths resolve it: the model holds no Node import.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/ui/',
  resolve: {
    alias: {
      '@mnsim/kernel': fileURLToPath(new URL('../libs/kernel/src/index.ts', import.meta.url)),
    },
  },
  build: {
    outDir: fileURLToPath(new URL('../dist/ui', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // the server has the sources: no map needed to read a stack, and none shipped
    sourcemap: false,
  },
});
