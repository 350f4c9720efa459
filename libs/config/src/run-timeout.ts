/**
 * MNSIM_RUN_TIMEOUT, read in one place: a distributed client gives up on runs that did not move
 * for this long, and the api and the auditor fail the runs whose last sign of life is older. Here
 * rather than in the transport's configuration, so that the CLI reads it without loading BullMQ.
 */
/** design.md's 60 s */
export const DEFAULT_RUN_TIMEOUT_MS = 60_000;

/** What MNSIM_RUN_TIMEOUT accepts. */
export const RUN_TIMEOUT_RULE = 'a duration from 1 s to 24 h, in seconds or with ms, s or m';

/** MNSIM_RUN_TIMEOUT's text in ms, or null when it is not one; blank is the default, 60 s. */
export function runTimeoutMs(raw: string): number | null {
  const text = raw.trim();
  if (text === '') return DEFAULT_RUN_TIMEOUT_MS;
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/.exec(text);
  const ms = m ? Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000 }[m[2] ?? 's'] ?? 1000) : NaN;
  return ms >= 1000 && ms <= 86_400_000 ? Math.round(ms) : null;
}
