/**
 * `mnsim triage <dmesg-file | -> [--json] [--record]`: each splat of a real kernel log, titled the
 * way syzkaller titles crashes, with the built-in scenarios and stored runs that reproduce it and
 * the variants under which they lose it (a counterfactual replay of each). The log is read a line
 * at a time, so its size does not matter; each reproducer is re-executed once per variant
 * whatever the number of splats. With --record the splats are kept in the history as observed
 * findings.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { printable } from '@mnsim/events';
import { RecordedRun, RecordedRunError } from '@mnsim/engine';
import { type Store, openStore } from '@mnsim/store';
import {
  type StoredReproducer,
  type TriageReport,
  logLabel,
  observedRuns,
  readSplats,
  triage,
} from '@mnsim/triage';
import type { CliConfig } from '../config.js';
import { EXIT_OK, UsageError } from '../errors.js';

/** Stored runs named per signature, newest first: enough to go and look. */
const STORED_RUNS_SHOWN = 10;

/** An observed run written (or found already there) by --record. */
interface Recorded {
  runId: string;
  kernel: string;
  arch: string;
  splats: number;
  /** false: the same splats of the same log were recorded before, and nothing was added */
  added: boolean;
}

export async function triageCommand(
  file: string,
  opts: { json?: boolean; record?: boolean },
  config: CliConfig,
): Promise<number> {
  const input = await openInput(file);
  const lines = createInterface({ input, crlfDelay: Infinity });
  const splats = await readSplats(lines);
  const store = await openStore(config.store);
  try {
    const reports = await triage(splats, (signature) => storedReproducers(store, signature));
    const recorded: Recorded[] = [];
    if (opts.record) {
      for (const run of observedRuns(logLabel(file), splats)) {
        recorded.push({
          runId: run.runId,
          kernel: run.kernel,
          arch: run.arch,
          splats: run.findings.length,
          added: await store.recordObservedRun(run),
        });
      }
    }
    process.stdout.write(
      opts.json
        ? JSON.stringify(opts.record ? { reports, recorded } : { reports }) + '\n'
        : triageHuman(file, reports) + recordedHuman(recorded),
    );
    return EXIT_OK;
  } finally {
    await store.close();
  }
}

/**
 * The newest simulated runs with the signature, each with what re-executes it. Only completed
 * runs can be replayed; a run the store cannot replay is not named.
 */
async function storedReproducers(store: Store, signature: string): Promise<StoredReproducer[]> {
  const page = await store.listRuns({
    signature,
    origin: 'simulated',
    status: 'completed',
    limit: STORED_RUNS_SHOWN,
  });
  const out: StoredReproducer[] = [];
  for (const row of page.rows) {
    let recorded: RecordedRun;
    try {
      recorded = await RecordedRun.open(store, row.runId);
    } catch (err) {
      if (err instanceof RecordedRunError) continue;
      throw err;
    }
    const { start } = recorded;
    out.push({
      reproducer: {
        source: 'store',
        scenario: row.scenario,
        kernel: row.kernel,
        arch: row.arch,
        runId: row.runId,
      },
      scenario: start.scenario,
      seed: start.seed,
    });
  }
  return out;
}

function recordedHuman(recorded: readonly Recorded[]): string {
  return recorded
    .map(
      (r) =>
        `${r.added ? 'recorded' : 'already recorded'}: ${r.splats} splat${r.splats === 1 ? '' : 's'} (${printable(r.kernel)}, ${r.arch}) as observed run ${r.runId}\n`,
    )
    .join('');
}

async function openInput(file: string): Promise<Readable> {
  if (file === '-') return process.stdin;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new UsageError(`${file}: not a file`);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new UsageError(`${file}: cannot read it (${code})`);
  }
  return createReadStream(file);
}

function triageHuman(file: string, reports: readonly TriageReport[]): string {
  if (reports.length === 0) return `${file === '-' ? 'standard input' : file}: no splat found\n`;
  const out: string[] = [];
  for (const r of reports) {
    const who = r.comm !== null ? `${printable(r.comm)}[${r.pid ?? '?'}]` : 'unknown task';
    out.push(`line ${r.line}: ${printable(r.signature)}`);
    out.push(
      `  ${who}${r.release ? ` on ${printable(r.release)}` : ''}: ${r.stack.slice(0, 8).map(printable).join(' < ')}`,
    );
    if (r.reproducedBy.length === 0) {
      out.push('  not reproduced by any built-in scenario or stored run');
      continue;
    }
    const builtins = new Map<string, string[]>();
    for (const p of r.reproducedBy.filter((x) => x.source === 'builtin')) {
      builtins.set(p.scenario, [...(builtins.get(p.scenario) ?? []), p.kernel]);
    }
    for (const [scenario, kernels] of builtins) {
      out.push(`  reproduced by ${scenario} on ${kernels.join(', ')}`);
    }
    const stored = r.reproducedBy.filter((x) => x.source === 'store');
    if (stored.length > 0) {
      out.push(
        `  and by stored runs ${stored.map((x) => `${x.runId?.slice(0, 8)} (${printable(x.scenario)}, ${x.kernel})`).join(', ')}`,
      );
    }
    out.push(r.fixedBy.length > 0 ? `  fixed by ${r.fixedBy.join(', ')}` : '  no variant fixes it');
  }
  return out.join('\n') + '\n';
}
