/** `mnsim run <scenario.yaml | built-in> [--kernel V] [--seed N] [--distributed] [--json] [--fail-on-violation]` */
import { printable } from '@mnsim/events';
import { openStore } from '@mnsim/store';
import { resolveScenario } from '@mnsim/scenarios';
import type { KernelVariant, Scenario } from '@mnsim/kernel';
import type { RunProgress } from '@mnsim/bus';
import type { CliConfig } from '../config.js';
import { EXIT_FAILED, EXIT_FINDINGS, EXIT_OK } from '../errors.js';
import { runHuman } from '../format.js';
import { runEmbedded, runJson } from '@mnsim/runs';

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
  if (opts.distributed || config.redisUrl) return runOnCluster(scenario, source, opts, config);
  const store = await openStore(config.store);
  try {
    const run = await runEmbedded(store, scenario, source, {
      kernel: opts.kernel,
      seed: opts.seed,
      limits: config.runLimits,
    });
    process.stdout.write(
      opts.json ? JSON.stringify(runJson(run)) + '\n' : runHuman(run, scenario.hz),
    );
    return opts.failOnViolation && run.violations.length > 0 ? EXIT_FINDINGS : EXIT_OK;
  } finally {
    await store.close();
  }
}

/** The cluster defaults of the design: redis://127.0.0.1:6379 and the postgres database. */
export const CLUSTER_DEFAULTS = {
  redisUrl: 'redis://127.0.0.1:6379',
  databaseUrl: 'postgres://postgres@127.0.0.1:5432/postgres',
};

/** Off a terminal, a run that has not moved for this long gets a line, and again each as long. */
const QUIET_LINE_MS = 10_000;

/**
 * The run's progress on stderr while the cluster works: a line redrawn on a terminal (events so
 * far, time since the run last moved); elsewhere a line only while it does not move.
 */
function clusterProgress(name: string): { show: (p: RunProgress) => void; stop: () => void } {
  const tty = process.stderr.isTTY;
  let quietLines = 0;
  let drawn = false;
  return {
    show: ({ events, sinceProgressMs }) => {
      const since = `${Math.floor(sinceProgressMs / 1000)} s`;
      if (tty) {
        drawn = true;
        process.stderr.write(
          `\rmnsim: ${name}: 1 run in flight, ${events} events, last progress ${since} ago\x1b[K`,
        );
      } else if (Math.floor(sinceProgressMs / QUIET_LINE_MS) > quietLines) {
        quietLines = Math.floor(sinceProgressMs / QUIET_LINE_MS);
        process.stderr.write(
          `mnsim: ${name}: 1 run in flight, ${events} events, no progress for ${since}\n`,
        );
      } else if (sinceProgressMs < QUIET_LINE_MS) quietLines = 0;
    },
    stop: () => {
      if (drawn) process.stderr.write('\n');
    },
  };
}

async function runOnCluster(
  scenario: Scenario,
  source: string,
  opts: RunOptions,
  config: CliConfig,
): Promise<number> {
  const progress = opts.json ? null : clusterProgress(printable(scenario.name));
  let run;
  try {
    // the cluster's client (BullMQ, ioredis) is loaded only for a distributed run
    const { runDistributed } = await import('@mnsim/bus');
    run = await runDistributed(scenario, source, {
      kernel: opts.kernel,
      seed: opts.seed,
      redisUrl: config.redisUrl ?? CLUSTER_DEFAULTS.redisUrl,
      databaseUrl: config.store.url ?? CLUSTER_DEFAULTS.databaseUrl,
      databaseSchema: config.store.schema,
      prefix: config.queuePrefix,
      runTimeoutMs: config.runTimeoutMs,
      onProgress: progress?.show,
    });
  } finally {
    progress?.stop();
  }
  if (run.status === 'failed') {
    process.stderr.write(
      `mnsim: run ${printable(run.runId)} failed: ${printable(run.failureReason ?? 'unknown reason')}\n`,
    );
    return EXIT_FAILED;
  }
  process.stdout.write(
    opts.json ? JSON.stringify(runJson(run)) + '\n' : runHuman(run, scenario.hz),
  );
  return opts.failOnViolation && run.violations.length > 0 ? EXIT_FINDINGS : EXIT_OK;
}
