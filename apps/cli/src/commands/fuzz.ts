/**
 * `mnsim fuzz --runs N [--seed S] [--json]`: a campaign of N generated scenarios from one seed,
 * each run recorded like `mnsim run`, with a progress bar, and a summary of the violations by
 * signature x variant x arch. campaignHash is the SHA-256 of the runs' logHashes in generation
 * order (each followed by "\n"): the same seed gives the same campaign and the same hash.
 */
import { createHash } from 'node:crypto';
import cliProgress from 'cli-progress';
import { type FindingKind, signatureKind } from '@mnsim/kernel';
import { printable } from '@mnsim/events';
import { generateScenario } from '@mnsim/scenarios';
import { openStore } from '@mnsim/store';
import type { CliConfig } from '../config.js';
import { Bus, ClusterStalledError, ClusterUnavailableError, DistributedClient } from '@mnsim/bus';
import { EXIT_FAILED, EXIT_OK, InfrastructureError } from '../errors.js';
import { assertClusterServes, assertRedisReachable, runDistributedWith } from '@mnsim/bus';
import { CLUSTER_DEFAULTS } from './run.js';
import { runEmbedded } from '@mnsim/runs';

export interface FuzzOptions {
  runs: number;
  seed: number;
  distributed?: boolean;
  json?: boolean;
}

export interface SignatureCount {
  signature: string;
  kind: FindingKind;
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

/** Where the campaign stands, for its progress display. */
interface Standing {
  done: number;
  failed: number;
  violations: number;
  /** distributed only: runs submitted and not yet closed, and how long since one moved */
  inFlight?: number;
  sinceProgressMs?: number;
}

interface Progress {
  update(s: Standing): void;
  stop(): void;
}

/** Distributed runs that have not moved for this long get a line of their own off a terminal. */
const QUIET_LINE_MS = 10_000;

const ago = (ms: number): string => `${Math.floor(ms / 1000)} s`;

/**
 * A bar on a terminal; elsewhere a line every tenth of the campaign and, on a cluster, one every
 * QUIET_LINE_MS that nothing moves, so a stalled campaign says so before it gives up.
 */
function progress(total: number, quiet: boolean, distributed: boolean): Progress {
  if (quiet) return { update: () => undefined, stop: () => undefined };
  const flight = (s: Standing): string =>
    distributed
      ? ` | ${s.inFlight ?? 0} in flight | last progress ${ago(s.sinceProgressMs ?? 0)} ago`
      : '';
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format:
          'fuzz [{bar}] {value}/{total} runs | {failed} failed | {violations} violations{flight} | eta {eta_formatted}',
        stream: process.stderr,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, {
      failed: 0,
      violations: 0,
      flight: flight({ done: 0, failed: 0, violations: 0 }),
    });
    return {
      update: (s) =>
        bar.update(s.done, { failed: s.failed, violations: s.violations, flight: flight(s) }),
      stop: () => bar.stop(),
    };
  }
  const step = Math.max(1, Math.floor(total / 10));
  let lastDone = -1;
  let quietLines = 0;
  return {
    update: (s) => {
      const since = s.sinceProgressMs ?? 0;
      const line = (): void => {
        process.stderr.write(
          `mnsim: fuzz ${s.done}/${total} runs, ${s.failed} failed, ${s.violations} violations` +
            (distributed ? `, ${s.inFlight ?? 0} in flight, last progress ${ago(since)} ago` : '') +
            '\n',
        );
      };
      if (s.done !== lastDone) {
        lastDone = s.done;
        quietLines = 0;
        if (s.done % step === 0 || s.done === total) line();
      } else if (distributed && Math.floor(since / QUIET_LINE_MS) > quietLines) {
        quietLines = Math.floor(since / QUIET_LINE_MS);
        line();
      }
    },
    stop: () => undefined,
  };
}

/** One run of the campaign: what the summary needs, or why it failed. */
type Outcome =
  | { ok: true; logHash: string | null; kernel: string; arch: string; signatures: string[] }
  | { ok: false; reason: string };

/**
 * Runs `n` jobs with at most `width` in flight; results in index order. A job that throws stops
 * the others from taking more; the jobs in hand finish (their clean-up included) before the first
 * error is thrown on.
 */
async function windowed<T>(
  n: number,
  width: number,
  job: (i: number) => Promise<T>,
  done: (r: T) => void,
): Promise<T[]> {
  const results = new Array<T>(n);
  let next = 0;
  let failure: { err: unknown } | null = null;
  const lane = async (): Promise<void> => {
    for (let i = next++; i < n && !failure; i = next++) {
      try {
        results[i] = await job(i);
      } catch (err) {
        failure ??= { err };
        return;
      }
      done(results[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, n) }, lane));
  if (failure) throw (failure as { err: unknown }).err;
  return results;
}

export async function fuzzCommand(opts: FuzzOptions, config: CliConfig): Promise<number> {
  const distributed = opts.distributed === true || config.redisUrl !== null;
  const redisUrl = config.redisUrl ?? CLUSTER_DEFAULTS.redisUrl;
  if (distributed) await assertRedisReachable(redisUrl);
  const store = await openStore(
    distributed
      ? { url: config.store.url ?? CLUSTER_DEFAULTS.databaseUrl, schema: config.store.schema }
      : config.store,
  );
  const bus = distributed ? new Bus({ redisUrl, prefix: config.queuePrefix ?? 'mnsim' }) : null;
  // one client for the campaign: one watch over the cluster, whatever the runs in flight
  const client = bus ? new DistributedClient(bus, { runTimeoutMs: config.runTimeoutMs }) : null;
  const checked = new Set<string>();
  const bar = progress(opts.runs, opts.json === true, client !== null);
  const standing: Standing = { done: 0, failed: 0, violations: 0 };
  const show = (): void =>
    bar.update({
      ...standing,
      inFlight: client?.watch.inFlight,
      sinceProgressMs: client?.watch.sinceProgressMs(),
    });
  const ticker = client ? setInterval(show, 1000) : null;
  const runOne = async (i: number): Promise<Outcome> => {
    const { scenario, yaml } = generateScenario(opts.seed, i);
    try {
      if (client && bus) {
        // the cluster must serve this arch's kvm queue (and the others): say so at once if not
        if (!checked.has(scenario.host.arch)) {
          await assertClusterServes(bus, scenario.host.arch, redisUrl);
          checked.add(scenario.host.arch);
        }
        const run = await runDistributedWith(store, client, scenario, yaml, {});
        if (run.status === 'failed') return { ok: false, reason: run.failureReason ?? 'failed' };
        const signatures = run.violations.map((v) => v.signature);
        return { ok: true, logHash: run.logHash, kernel: run.kernel, arch: run.arch, signatures };
      }
      const run = await runEmbedded(store, scenario, yaml, { limits: config.runLimits });
      const signatures = run.violations.map((v) => v.signature);
      return { ok: true, logHash: run.logHash, kernel: run.kernel, arch: run.arch, signatures };
    } catch (err) {
      // the cluster cannot go on (ClusterStalledError), or the infrastructure is wrong: the
      // campaign stops with the reason
      if (
        err instanceof InfrastructureError ||
        err instanceof ClusterStalledError ||
        err instanceof ClusterUnavailableError
      )
        throw err;
      // a run that cannot finish is recorded as failed; the campaign goes on
      const reason = err instanceof Error ? err.message : String(err);
      return { ok: false, reason: `${scenario.name}: ${reason}` };
    }
  };
  let outcomes: Outcome[];
  try {
    // an embedded run is synchronous: one at a time; a cluster gets a window of runs in flight
    outcomes = await windowed(opts.runs, client ? 8 : 1, runOne, (o) => {
      standing.done++;
      if (o.ok) standing.violations += o.signatures.length;
      else standing.failed++;
      show();
    });
  } finally {
    if (ticker) clearInterval(ticker);
    bar.stop();
    client?.close();
    await bus?.close();
    await store.close();
  }
  // the summary follows generation order, whatever order the runs finished in
  const campaign = createHash('sha256');
  const counts = new Map<string, SignatureCount>();
  let completed = 0;
  let failed = 0;
  let violations = 0;
  outcomes.forEach((o, i) => {
    if (!o.ok) {
      failed++;
      campaign.update('failed\n');
      process.stderr.write(`mnsim: fuzz run ${i} failed: ${printable(o.reason)}\n`);
      return;
    }
    completed++;
    campaign.update(`${o.logHash}\n`);
    for (const signature of o.signatures) {
      const key = `${signature}\u0000${o.kernel}\u0000${o.arch}`;
      const c = counts.get(key) ?? {
        signature,
        kind: signatureKind(signature),
        kernel: o.kernel,
        arch: o.arch,
        count: 0,
      };
      c.count++;
      counts.set(key, c);
    }
    violations += o.signatures.length;
  });
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
        `${String(r.count).padEnd(w.count)}  ${r.kernel.padEnd(w.kernel)}  ${r.arch.padEnd(w.arch)}  ${printable(r.signature)}`,
      );
    }
  }
  return lines.join('\n') + '\n';
}
