/**
 * Human renderings of runs and violations, as the design's CLI contract prints them (the JSON ones,
 * which the API answers with too, are @mnsim/runs').
 */
import { formatKernelLog } from '@mnsim/engine';
import { type Violation, printable } from '@mnsim/events';
import { FINDING_KINDS } from '@mnsim/kernel';
import type { SignatureGroup, ViolationRow } from '@mnsim/store';
import type { PrintableRun } from '@mnsim/runs';

/** The run's kernel log as dmesg shows it, then one summary line. */
export function runHuman(run: PrintableRun, hz: number): string {
  const lines = formatKernelLog(run.kernelLog, hz);
  lines.push(
    `mnsim: run ${printable(run.runId)} ${printable(run.scenario)} on ${run.kernel}/${run.arch} seed ${run.seed}: ${run.status}${run.panicked ? ' (kernel panicked)' : ''}, ` +
      `${run.events} events, ${findingsSummary(run.violations)}, ${run.logHash}`,
  );
  return lines.join('\n') + '\n';
}

/**
 * "N violations (P printed, S rate-limited)", then the findings the kernel never prints, by
 * kind: "…, 10 notifier-imbalance, 1 guest-livelock".
 */
function findingsSummary(findings: readonly Violation[]): string {
  const sleeps = findings.filter((v) => v.kind === 'atomic-sleep');
  const reported = sleeps.filter((v) => v.reported).length;
  let out = `${sleeps.length} violation${sleeps.length === 1 ? '' : 's'}`;
  if (sleeps.length > 0) out += ` (${reported} printed, ${sleeps.length - reported} rate-limited)`;
  for (const kind of FINDING_KINDS) {
    const n = kind === 'atomic-sleep' ? 0 : findings.filter((v) => v.kind === kind).length;
    if (n > 0) out += `, ${n} ${kind}`;
  }
  return out;
}

export function violationsHuman(rows: ViolationRow[], more: boolean): string {
  if (rows.length === 0) return 'no violations match\n';
  const out = table(
    [
      'RECORDED',
      'RUN',
      'ORIGIN',
      'SCENARIO',
      'KERNEL',
      'ARCH',
      'KIND',
      'JIFFY',
      'COMM',
      'PID',
      'SITE',
      'PRINTED',
    ],
    rows.map((v) => [
      v.recordedAt.replace('T', ' ').slice(0, 19),
      v.runId.slice(0, 8),
      v.origin,
      v.scenario,
      v.kernel,
      v.arch,
      v.kind,
      String(v.jiffies),
      v.comm,
      String(v.pid),
      v.site,
      v.reported ? 'yes' : 'no',
    ]),
  );
  return out + (more ? '… more: narrow the filters or use --limit / --json\n' : '');
}

export function signaturesHuman(groups: SignatureGroup[]): string {
  if (groups.length === 0) return 'no violations match\n';
  return table(
    ['COUNT', 'OBSERVED', 'RUNS', 'KERNELS', 'ARCHES', 'FIRST SEEN', 'LAST SEEN', 'SIGNATURE'],
    groups.map((g) => [
      String(g.count),
      String(g.observed),
      String(g.runs),
      g.kernels.join(','),
      g.arches.join(','),
      g.firstSeen.replace('T', ' ').slice(0, 19),
      g.lastSeen.replace('T', ' ').slice(0, 19),
      g.signature,
    ]),
  );
}

/** Columns padded to their widest cell, every cell escaped: what reaches a terminal. */
export function table(header: string[], rows: string[][]): string {
  const cells = rows.map((r) => r.map(printable));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const fmt = (r: string[]): string =>
    r
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [fmt(header), ...cells.map(fmt)].join('\n') + '\n';
}
