/**
 * `mnsim triage --record`: the splats of a real log kept in the history as observed findings,
 * beside the simulated ones. Each (release, arch) of the log becomes one run of origin
 * `observed` (a run's findings share its labels: the signature rollup counts by them), labelled
 * with the log's name as its scenario. Its id is a digest of what it records, so recording the
 * same log again adds nothing.
 */
import { createHash } from 'node:crypto';
import type { ObservedRun } from '@mnsim/store';
import type { RawSplat } from './dmesg.js';
import { titleFrames, titleOf } from './title.js';

/** The labels of a splat that names no release or shows no architecture. */
export const UNKNOWN_LABEL = 'unknown';
/** The scenario label of a log read from standard input. */
export const STDIN_LOG_NAME = 'stdin';
/** Where `__schedule_bug` prints "scheduling while atomic" (kernel/sched/core.c, v5.8). */
const SCHEDULE_BUG_SITE = 'kernel/sched/core.c:__schedule_bug';
/** Characters of a log name kept as a label (a scenario name is at most 64). */
const MAX_LOG_NAME = 64;

/** A log's name as a label: its last path component, printable, at most 64 characters. */
export function logLabel(path: string): string {
  if (path === '-') return STDIN_LOG_NAME;
  const base =
    path
      .split(/[\\/]/)
      .filter((p) => p !== '')
      .pop() ?? path;
  // eslint-disable-next-line no-control-regex
  const clean = base.replace(/[\x00-\x1f\x7f]/g, '?').slice(0, MAX_LOG_NAME);
  return clean === '' ? UNKNOWN_LABEL : clean;
}

/** The observed runs of a log's splats, one per (release, arch), findings in the log's order. */
export function observedRuns(logName: string, splats: readonly RawSplat[]): ObservedRun[] {
  const groups = new Map<string, { kernel: string; arch: string; splats: RawSplat[] }>();
  for (const s of splats) {
    const kernel = s.release ?? UNKNOWN_LABEL;
    const arch = s.arch ?? UNKNOWN_LABEL;
    const key = `${kernel}\n${arch}`;
    let g = groups.get(key);
    if (g === undefined) {
      g = { kernel, arch, splats: [] };
      groups.set(key, g);
    }
    g.splats.push(s);
  }
  return [...groups.values()].map(({ kernel, arch, splats: group }) => {
    const digest = createHash('sha256').update(`${logName}\n${kernel}\n${arch}\n`);
    for (const s of group) digest.update(`${s.line}\n${s.text.join('\n')}\n\n`);
    const runId = `observed-${digest.digest('hex').slice(0, 32)}`;
    return {
      runId,
      scenario: logName,
      kernel,
      arch,
      findings: group.map((s, seq) => ({
        eventId: `${runId}:line-${s.line}`,
        v: {
          seq,
          kind: 'atomic-sleep' as const,
          // a real log has no jiffies of the model's clock
          jiffies: 0,
          site: s.site ?? SCHEDULE_BUG_SITE,
          inAtomic: s.inAtomic ?? 1,
          irqsDisabled: s.irqsDisabled ?? 0,
          nonBlock: s.nonBlock ?? 0,
          pid: s.pid ?? 0,
          comm: s.comm ?? UNKNOWN_LABEL,
          // the kernel printed it: that is how it reached the log
          reported: true,
          signature: titleOf(s),
          stack: titleFrames(s),
          text: s.text.join('\n'),
        },
      })),
    };
  });
}
