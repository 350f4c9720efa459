/**
 * Human renderings of runs and violations, as the design's CLI contract prints them (the JSON ones,
 * which the API answers with too, are @mnsim/runs').
 */
import { formatKernelLog } from '@mnsim/engine';
import { printable } from '@mnsim/events';
import type { SignatureGroup, ViolationRow } from '@mnsim/store';
import type { PrintableRun } from '@mnsim/runs';

/** The run's kernel log as dmesg shows it, then one summary line. */
export function runHuman(run: PrintableRun, hz: number): string {
  const lines = formatKernelLog(run.kernelLog, hz);
  const reported = run.violations.filter((v) => v.reported).length;
  const suppressed = run.violations.length - reported;
  lines.push(
    `mnsim: run ${printable(run.runId)} ${printable(run.scenario)} on ${run.kernel}/${run.arch} seed ${run.seed}: ${run.status}${run.panicked ? ' (kernel panicked)' : ''}, ` +
      `${run.events} events, ${run.violations.length} violation${run.violations.length === 1 ? '' : 's'}` +
      (run.violations.length > 0 ? ` (${reported} printed, ${suppressed} rate-limited)` : '') +
      `, ${run.logHash}`,
  );
  return lines.join('\n') + '\n';
}

export function violationsHuman(rows: ViolationRow[], more: boolean): string {
  if (rows.length === 0) return 'no violations match\n';
  const out = table(
    [
      'RECORDED',
      'RUN',
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
    ['COUNT', 'RUNS', 'KERNELS', 'ARCHES', 'FIRST SEEN', 'LAST SEEN', 'SIGNATURE'],
    groups.map((g) => [
      String(g.count),
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
