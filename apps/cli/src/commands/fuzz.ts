/**
 * `mnsim fuzz --runs N [--seed S] [--json]`: a campaign of N generated scenarios from one seed,
 * each run recorded like `mnsim run`, with a progress bar, and a summary of the violations by
 * signature x variant x arch. campaignHash is the SHA-256 of the runs' logHashes in generation
 * order (each followed by "\n"): the same seed gives the same campaign and the same hash.
 */
import { createHash } from 'node:crypto';
import cliProgress from 'cli-progress';
import { generateScenario } from '@mnsim/scenarios';
import { openStore } from '@mnsim/store';
import type { CliConfig } from '../config.js';
import { EXIT_FAILED, EXIT_OK, UsageError } from '../errors.js';
import { runEmbedded } from '../run-embedded.js';

export interface FuzzOptions {
  runs: number;
  seed: number;
  distributed?: boolean;
  json?: boolean;
}

export interface SignatureCount {
  signature: string;
  kernel: string;
  arch: string;
  count: number;
}

export interface FuzzSummary {
  seed: number;
  runs: number;
  completed: number;
  failed: number;
  violations: number;
  campaignHash: string;
  bySignature: SignatureCount[];
}

interface Progress {
  update(done: number, violations: number): void;
  stop(): void;
}

/** A bar on a terminal; elsewhere a line every tenth of the campaign. */
function progress(total: number, quiet: boolean): Progress {
  if (quiet) return { update: () => undefined, stop: () => undefined };
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: 'fuzz [{bar}] {value}/{total} runs | {violations} violations | eta {eta_formatted}',
        stream: process.stderr,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { violations: 0 });
    return {
      update: (done, violations) => bar.update(done, { violations }),
      stop: () => bar.stop(),
    };
  }
  const step = Math.max(1, Math.floor(total / 10));
  return {
    update: (done, violations) => {
      if (done % step === 0 || done === total) {
        process.stderr.write(`mnsim: fuzz ${done}/${total} runs, ${violations} violations\n`);
      }
    },
    stop: () => undefined,
  };
}

export async function fuzzCommand(opts: FuzzOptions, config: CliConfig): Promise<number> {
  if (opts.distributed || config.redisUrl) {
    throw new UsageError(
      'distributed campaigns need the mnsim workers, which this version does not ship yet; run without --distributed and without MNSIM_REDIS_URL',
    );
  }
  const store = await openStore(config.store);
  const campaign = createHash('sha256');
  const counts = new Map<string, SignatureCount>();
  let completed = 0;
  let failed = 0;
  let violations = 0;
  const bar = progress(opts.runs, opts.json === true);
  try {
    for (let i = 0; i < opts.runs; i++) {
      const { scenario, yaml } = generateScenario(opts.seed, i);
      try {
        const run = await runEmbedded(store, scenario, yaml, {});
        completed++;
        campaign.update(`${run.logHash}\n`);
        for (const v of run.violations) {
          const key = `${v.signature}\u0000${run.kernel}\u0000${run.arch}`;
          const c = counts.get(key) ?? {
            signature: v.signature,
            kernel: run.kernel,
            arch: run.arch,
            count: 0,
          };
          c.count++;
          counts.set(key, c);
        }
        violations += run.violations.length;
      } catch (err) {
        // a run that cannot finish is recorded as failed by runEmbedded; the campaign goes on
        failed++;
        campaign.update(`failed\n`);
        process.stderr.write(
          `mnsim: fuzz run ${i} (${scenario.name}) failed: ${err instanceof Error ? err.message : String(err)}\n`,
        );
      }
      bar.update(i + 1, violations);
    }
  } finally {
    bar.stop();
    await store.close();
  }
  const summary: FuzzSummary = {
    seed: opts.seed,
    runs: opts.runs,
    completed,
    failed,
    violations,
    campaignHash: `sha256:${campaign.digest('hex')}`,
    bySignature: [...counts.values()].sort(
      (a, b) =>
        b.count - a.count ||
        a.signature.localeCompare(b.signature) ||
        a.kernel.localeCompare(b.kernel) ||
        a.arch.localeCompare(b.arch),
    ),
  };
  process.stdout.write(opts.json ? JSON.stringify(summary) + '\n' : fuzzHuman(summary));
  return failed > 0 ? EXIT_FAILED : EXIT_OK;
}

function fuzzHuman(s: FuzzSummary): string {
  const lines = [
    `campaign seed ${s.seed}: ${s.runs} runs, ${s.completed} completed, ${s.failed} failed, ${s.violations} violations`,
    `campaignHash ${s.campaignHash}`,
  ];
  if (s.bySignature.length > 0) {
    const w = {
      count: Math.max(5, ...s.bySignature.map((r) => String(r.count).length)),
      kernel: Math.max(6, ...s.bySignature.map((r) => r.kernel.length)),
      arch: Math.max(4, ...s.bySignature.map((r) => r.arch.length)),
    };
    lines.push('');
    lines.push(
      `${'COUNT'.padEnd(w.count)}  ${'KERNEL'.padEnd(w.kernel)}  ${'ARCH'.padEnd(w.arch)}  SIGNATURE`,
    );
    for (const r of s.bySignature) {
      lines.push(
        `${String(r.count).padEnd(w.count)}  ${r.kernel.padEnd(w.kernel)}  ${r.arch.padEnd(w.arch)}  ${r.signature}`,
      );
    }
  }
  return lines.join('\n') + '\n';
}
