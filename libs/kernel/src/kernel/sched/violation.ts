/** What mnsim records for one failed ___might_sleep check (reference §10). */
export interface ViolationRecord {
  jiffies: number;
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
