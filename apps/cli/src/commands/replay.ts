/**
 * `mnsim replay <runId | log.jsonl> [--kernel V] [--json]`: re-execute a recorded run and compare
 * (verify mode), or run it on another variant and list the violations it adds and removes
 * (counterfactual mode). `mnsim replay --rebuild [runId]`: rebuild the violations table from the
 * event log and check it against the table as it was.
 */
import { statSync } from 'node:fs';
import {
  LogFile,
  RecordedRun,
  type RebuildReport,
  type ReplayOutcome,
  rebuildViolations,
  replayLog,
} from '@mnsim/engine';
import { type Violation, canonicalJson, printable } from '@mnsim/events';
import type { Arch, KernelVariant } from '@mnsim/kernel';
import { openStore } from '@mnsim/store';
import type { CliConfig } from '../config.js';
import { EXIT_FINDINGS, EXIT_OK, UsageError } from '../errors.js';
import { violationJson } from '@mnsim/runs';

export interface ReplayOptions {
  kernel?: KernelVariant;
  /** replay on another architecture (counterfactual), where the scenario allows */
  arch?: Arch;
  json?: boolean;
  rebuild?: boolean;
}

/**
 * Exit status: 1 when a verify replay diverged or a rebuild did not give the table back as it
 * was; 0 otherwise, a counterfactual included (a violations diff is its answer, not a failure).
 */
export async function replayCommand(
  ref: string | undefined,
  opts: ReplayOptions,
  config: CliConfig,
): Promise<number> {
  if (opts.rebuild) return rebuildCommand(ref, opts, config);
  if (ref === undefined || ref.trim() === '') {
    throw new UsageError('replay needs a run id or a log file (or --rebuild)');
  }
  let outcome: ReplayOutcome;
  let origin: string;
  if (isLogFileRef(ref)) {
    origin = ref;
    const log = await LogFile.open(ref);
    try {
      outcome = await replayLog(log, opts.kernel, opts.arch, { limits: config.runLimits });
    } finally {
      await log.close();
    }
  } else {
    const store = await openStore(config.store);
    try {
      const run = await RecordedRun.open(store, ref);
      origin = `run ${run.runId}`;
      outcome = await replayLog(run, opts.kernel, opts.arch, { limits: config.runLimits });
    } finally {
      await store.close();
    }
  }
  const report = {
    ...outcome.report,
    violations: outcome.report.violations.map(violationJson),
    violationsDiff: {
      added: outcome.report.violationsDiff.added.map(violationJson),
      removed: outcome.report.violationsDiff.removed.map(violationJson),
    },
  };
  process.stdout.write(
    opts.json ? JSON.stringify(report) + '\n' : replayHuman(outcome, printable(origin)),
  );
  return outcome.mode === 'verify' && !outcome.report.matches ? EXIT_FINDINGS : EXIT_OK;
}

/** A log file: an existing file, or anything that looks like a path rather than a run id. */
function isLogFileRef(ref: string): boolean {
  try {
    if (statSync(ref).isFile()) return true;
  } catch {
    // not a file: a run id, unless it looks like a path (then LogFile.open says what is wrong)
  }
  return /[\\/]/.test(ref) || /\.jsonl?$/.test(ref);
}

async function rebuildCommand(
  ref: string | undefined,
  opts: ReplayOptions,
  config: CliConfig,
): Promise<number> {
  if (opts.kernel || opts.arch) {
    throw new UsageError('--rebuild rebuilds from the recorded log: no --kernel or --arch');
  }
  if (ref !== undefined && isLogFileRef(ref)) {
    throw new UsageError('--rebuild takes a run id (or nothing, for every run), not a log file');
  }
  const store = await openStore(config.store);
  let report: RebuildReport;
  try {
    const runId = ref === undefined ? undefined : await store.resolveRunId(ref);
    report = await rebuildViolations(store, runId);
  } finally {
    await store.close();
  }
  process.stdout.write(opts.json ? JSON.stringify(report) + '\n' : rebuildHuman(report));
  return report.matches ? EXIT_OK : EXIT_FINDINGS;
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

export function replayHuman(o: ReplayOutcome, origin: string): string {
  const r = o.report;
  const rec = o.recorded;
  const runId = printable(r.runId);
  const what = `${origin === `run ${runId}` ? origin : `${origin} (run ${runId})`}: ${printable(rec.scenario.name)} recorded on ${rec.kernel}/${rec.arch}, seed ${rec.seed}`;
  const out: string[] = [];
  const diff = r.violationsDiff;
  if (o.mode === 'verify') {
    out.push(
      r.matches
        ? `replay of ${what}: matches, ${plural(o.events, 'event')}, ${r.logHash}`
        : `replay of ${what}: DIVERGED at seq ${r.firstDivergence?.seq}`,
    );
    if (!r.matches) {
      out.push(...divergenceHuman(r.firstDivergence));
      out.push(
        `  replayed ${plural(o.events, 'event')}, ${r.logHash}; recorded ${plural(rec.events, 'event')}, ${r.expectedLogHash}`,
      );
    }
  } else {
    out.push(
      `counterfactual replay of ${what}, on ${r.kernel}/${o.arch}: ${plural(diff.removed.length, 'violation')} removed, ${diff.added.length} added` +
        ` (${rec.kernel}/${rec.arch}: ${r.violations.length - diff.added.length + diff.removed.length}, ${r.kernel}/${o.arch}: ${r.violations.length})`,
    );
    out.push(
      r.firstDivergence === null
        ? `  the logs are identical but for the variant named in run.start`
        : `  the logs first differ at seq ${r.firstDivergence.seq}:`,
    );
    if (r.firstDivergence !== null) out.push(...divergenceHuman(r.firstDivergence));
  }
  if (diff.removed.length > 0 || diff.added.length > 0 || o.mode === 'counterfactual') {
    out.push(...splats('removed', rec.kernel, diff.removed));
    out.push(...splats('added', r.kernel, diff.added));
  }
  return out.join('\n') + '\n';
}

function splats(kind: 'removed' | 'added', kernel: string, vs: Violation[]): string[] {
  const out: string[] = [];
  for (const v of vs) {
    out.push(
      '',
      `${kind} (${kind === 'removed' ? 'recorded' : 'replayed'} on ${kernel}, seq ${v.seq}): ${printable(v.comm)}[${v.pid}] at jiffy ${v.jiffies}, ${printable(v.site)}${splatNote(v)}`,
      ...v.text.split('\n').map(printable),
    );
  }
  return out;
}

/** Shows the two lines around their first differing character. */
function divergenceHuman(d: ReplayOutcome['report']['firstDivergence']): string[] {
  if (d === null) return [];
  const expected = d.expected === null ? null : canonicalJson(d.expected);
  const actual = d.actual === null ? null : canonicalJson(d.actual);
  if (expected === null || actual === null) {
    return [
      expected === null
        ? `  the recorded log ends before seq ${d.seq}; the replay goes on with: ${clip(actual ?? '', 0)}`
        : `  the replay ends before seq ${d.seq}; the recorded log goes on with: ${clip(expected, 0)}`,
    ];
  }
  let at = 0;
  while (at < expected.length && expected[at] === actual[at]) at++;
  return [
    `  expected: ${clip(expected, at)}`,
    `  actual:   ${clip(actual, at)}`,
    `  (first difference at character ${at + 1})`,
  ];
}

/** ~200 characters of `line` around `at`. */
function clip(line: string, at: number): string {
  const from = Math.max(0, at - 80);
  const to = Math.min(line.length, at + 120);
  return `${from > 0 ? '…' : ''}${printable(line.slice(from, to))}${to < line.length ? '…' : ''}`;
}

function rebuildHuman(r: RebuildReport): string {
  const head = `rebuilt the violations of ${plural(r.runs, 'run')} from their event logs: ${r.after} rows (${r.before} before)`;
  if (r.matches) return `${head}; the table is exactly as it was\n`;
  return (
    [
      `${head}; the table was NOT as the logs say, for these runs:`,
      ...r.differing.map(
        (d) => `  ${printable(d.runId)}: ${d.before} rows before, ${d.after} rebuilt`,
      ),
    ].join('\n') + '\n'
  );
}

/** Why a finding's text was not in the kernel log: the rate limit, or the kernel never prints it. */
function splatNote(v: Violation): string {
  if (v.kind !== 'atomic-sleep') return ` (${v.kind}: the kernel prints nothing)`;
  return v.reported ? '' : ' (rate-limited: not printed)';
}
