/** `mnsim import <log.jsonl> [--json]`: a log file (as `mnsim export` writes it) into the store. */
import { importLogFile } from '@mnsim/engine';
import { printable } from '@mnsim/events';
import { openStore } from '@mnsim/store';
import type { CliConfig } from '../config.js';
import { EXIT_OK } from '../errors.js';

export interface ImportOptions {
  json?: boolean;
}

/**
 * Prints the run id (the whole result with --json) and a summary on stderr. A refused log is a
 * LogFileError naming the file and the first bad line (exit 2).
 */
export async function importCommand(
  file: string,
  opts: ImportOptions,
  config: CliConfig,
): Promise<number> {
  const store = await openStore(config.store);
  try {
    const r = await importLogFile(store, file);
    if (opts.json) {
      process.stdout.write(JSON.stringify(r) + '\n');
    } else {
      // the header's fields are checked, and printed escaped all the same: they come from a file
      process.stdout.write(`${printable(r.runId)}\n`);
      process.stderr.write(
        `mnsim: ${r.imported ? 'imported' : 'already in the store:'} run ${printable(r.runId)} ${printable(r.scenario)} on ${r.kernel}/${r.arch} seed ${r.seed}, ` +
          `${r.events} events, ${r.violations} violation${r.violations === 1 ? '' : 's'}, ${r.logHash}\n`,
      );
    }
    return EXIT_OK;
  } finally {
    await store.close();
  }
}
