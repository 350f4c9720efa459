/** `mnsim run <scenario.yaml | built-in> [--kernel V] [--seed N] [--distributed] [--json] [--fail-on-violation]` */
import { openStore } from '@mnsim/store';
import { resolveScenario } from '@mnsim/scenarios';
import type { KernelVariant } from '@mnsim/kernel';
import type { CliConfig } from '../config.js';
import { EXIT_FINDINGS, EXIT_OK, UsageError } from '../errors.js';
import { runHuman, runJson } from '../format.js';
import { runEmbedded } from '../run-embedded.js';

export interface RunOptions {
  kernel?: KernelVariant;
  seed?: number;
  distributed?: boolean;
  json?: boolean;
  failOnViolation?: boolean;
}

export async function runCommand(
  ref: string,
  opts: RunOptions,
  config: CliConfig,
): Promise<number> {
  const { scenario, source } = resolveScenario(ref);
  if (opts.distributed || config.redisUrl) {
    throw new UsageError(
      'distributed runs need the mnsim workers, which this version does not ship yet; run without --distributed and without MNSIM_REDIS_URL for an embedded run',
    );
  }
  const store = await openStore(config.store);
  try {
    const run = await runEmbedded(store, scenario, source, {
      kernel: opts.kernel,
      seed: opts.seed,
    });
    process.stdout.write(
      opts.json ? JSON.stringify(runJson(run)) + '\n' : runHuman(run, scenario.hz),
    );
    return opts.failOnViolation && run.violations.length > 0 ? EXIT_FINDINGS : EXIT_OK;
  } finally {
    await store.close();
  }
}
