#!/usr/bin/env node
/** The API as a process of its own (containers, `npm run cluster`): bootstrap only. */
import { serve } from './app.js';
import { loadApiConfig } from './config.js';

try {
  await serve(loadApiConfig(process.env));
} catch (err) {
  const e = err as { message?: unknown; exitCode?: unknown; exitStatus?: unknown };
  process.stderr.write(`mnsim serve: ${String(e?.message ?? err)}\n`);
  process.exitCode =
    typeof e?.exitCode === 'number'
      ? e.exitCode
      : typeof e?.exitStatus === 'number'
        ? e.exitStatus
        : 3;
}
