/**
 * `mnsim triage <dmesg-file | -> [--json]`: each splat of a real kernel log, titled the way
 * syzkaller titles crashes, with the built-in scenarios and stored runs that reproduce it and
 * the variants under which they lose it. The log is read a line at a time, so its size does not
 * matter; the built-ins are simulated once whatever the number of splats.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { printable } from '@mnsim/events';
import { openStore } from '@mnsim/store';
import { type Reproducer, type TriageReport, readSplats, triage } from '@mnsim/triage';
import type { CliConfig } from '../config.js';
import { EXIT_OK, UsageError } from '../errors.js';

/** Stored runs named per signature, newest first: enough to go and look. */
const STORED_RUNS_SHOWN = 10;

export async function triageCommand(
  file: string,
  opts: { json?: boolean },
  config: CliConfig,
): Promise<number> {
  const input = await openInput(file);
  const lines = createInterface({ input, crlfDelay: Infinity });
  const splats = await readSplats(lines);
  const store = await openStore(config.store);
  try {
    const reports = await triage(splats, async (signature) => {
      const page = await store.queryViolations({ signature, limit: 1000 });
      const runs = new Map<string, Reproducer>();
      for (const v of page.rows) {
        if (runs.size >= STORED_RUNS_SHOWN) break;
        if (!runs.has(v.runId)) {
          runs.set(v.runId, {
            source: 'store',
            scenario: v.scenario,
            kernel: v.kernel,
            arch: v.arch,
            runId: v.runId,
          });
        }
      }
      return [...runs.values()];
    });
    process.stdout.write(
      opts.json ? JSON.stringify({ reports }) + '\n' : triageHuman(file, reports),
    );
    return EXIT_OK;
  } finally {
    await store.close();
  }
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
