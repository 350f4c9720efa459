import type { ExecContext } from '../context.js';

/**
 * What a finding is: a failed ___might_sleep check (`atomic-sleep`, the kernel prints it), an
 * invalidate_range_start whose _end its caller skipped (`notifier-imbalance`), or a vCPU fault
 * that can never make progress (`guest-livelock`); the kernel prints neither of the last two.
 */
export const FINDING_KINDS = ['atomic-sleep', 'notifier-imbalance', 'guest-livelock'] as const;
export type FindingKind = (typeof FINDING_KINDS)[number];

/**
 * What mnsim records for one finding (reference §10). `kind` is absent for `atomic-sleep`: the
 * logs recorded before findings had kinds hold only those, and stay byte for byte what the model
 * writes for them (their logHash verifies on replay).
 */
export interface ViolationRecord {
  jiffies: number;
  kind?: Exclude<FindingKind, 'atomic-sleep'>;
  site: string;
  inAtomic: number;
  irqsDisabled: number;
  nonBlock: number;
  pid: number;
  comm: string;
  /** whether the once-per-HZ limit let it print */
  reported: boolean;
  signature: string;
  /** source-level chain, innermost first, inlined helpers included */
  stack: string[];
  /** the splat as the build would print it (printed only when `reported`) */
  text: string;
}

/** The might-sleep family: frames skipped when naming a violation after its caller. */
const MIGHT_SLEEP_FAMILY = new Set([
  '___might_sleep',
  '__might_sleep',
  'might_sleep',
  'cond_resched_lock',
  '__cond_resched_lock',
]);

export function signatureOf(stackInnermostFirst: readonly string[]): string {
  const fn = stackInnermostFirst.find((f) => !MIGHT_SLEEP_FAMILY.has(f)) ?? '?';
  return `BUG: sleeping function called from invalid context in ${fn}`;
}

/**
 * The signature of a finding of a kind the kernel does not print starts with its kind: a
 * signature alone tells its kind (the history's rollup is keyed by signature).
 */
export function findingSignature(
  kind: Exclude<FindingKind, 'atomic-sleep'>,
  title: string,
): string {
  return `${kind}: ${title}`;
}

/**
 * A finding of a kind the kernel does not print, recorded where `ctx` stands: its signature
 * "<kind>: <title>", its stack innermost first, and a text that says what happened (`account`)
 * with the site and the stack, since no splat exists to quote. Never `reported`.
 */
export function silentFinding(
  ctx: ExecContext,
  kind: Exclude<FindingKind, 'atomic-sleep'>,
  title: string,
  site: string,
  account: readonly string[],
): ViolationRecord {
  const signature = findingSignature(kind, title);
  const stack = [...ctx.stack].reverse();
  const text = [
    `mnsim: ${signature} (${site})`,
    ...account,
    'Call trace:',
    ...stack.map((f) => ` ${f}`),
  ].join('\n');
  // keys in code-point order: the canonical encoding then needs no sorting (libs/events)
  return {
    comm: ctx.task.comm,
    inAtomic: ctx.preemptCount !== 0 ? 1 : 0,
    irqsDisabled: ctx.irqsDisabled ? 1 : 0,
    jiffies: ctx.jiffies,
    kind,
    nonBlock: ctx.nonBlockCount,
    pid: ctx.task.pid,
    reported: false,
    signature,
    site,
    stack,
    text,
  };
}

/** The kind of the findings of `signature` (see findingSignature). */
export function signatureKind(signature: string): FindingKind {
  for (const kind of FINDING_KINDS) if (signature.startsWith(`${kind}: `)) return kind;
  return 'atomic-sleep';
}

/** A finding's kind: `atomic-sleep` when the record names none. */
export function findingKind(v: { kind?: FindingKind }): FindingKind {
  return v.kind ?? 'atomic-sleep';
}
