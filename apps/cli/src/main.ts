#!/usr/bin/env node
/** The `mnsim` command: bootstrap only. */
import { main } from './cli.js';
import { reportError } from './errors.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.exitCode = reportError(err);
  },
);
