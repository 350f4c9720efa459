/**
 * The dashboard's build: ui/ into dist/ui, served by `mnsim serve` under /ui (libs/http's ui.ts).
 * Preact's JSX runtime comes from tsconfig.json's jsxImportSource.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/ui/',
  build: {
    outDir: fileURLToPath(new URL('../dist/ui', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // the server has the sources: no map needed to read a stack, and none shipped
    sourcemap: false,
  },
});
