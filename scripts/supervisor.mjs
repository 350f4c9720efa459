// The restart policy of `npm run cluster` (cluster.mjs), apart from any process so that it can be
// tested on its own: when a process that exited on its own is started again, and when it is not.

/** the first restart's delay */
export const BACKOFF_FIRST_MS = 1_000;
/** the delay doubles with each restart in a row, up to this */
export const BACKOFF_MAX_MS = 30_000;
/** a process that stayed up this long before it exited starts over from the first delay */
export const STABLE_AFTER_MS = 60_000;
/** every app's config loader exits so, with a one-line reason: starting it again cannot help */
export const EXIT_BAD_CONFIG = 2;

/** The delay before a restart when `failures` restarts in a row came before it: 1, 2, 4 … 30 s. */
export function backoffMs(failures) {
  return Math.min(BACKOFF_FIRST_MS * 2 ** failures, BACKOFF_MAX_MS);
}

/**
 * What to do about a process that exited without being asked to: `code` and `signal` as its
 * 'exit' event gives them, `upMs` how long it ran, `failures` its restarts in a row so far.
 * A bad configuration stops the cluster; anything else restarts the process after its backoff,
 * and `failures` is what to keep for its next exit.
 */
export function onUnexpectedExit({ code, signal, upMs }, failures) {
  if (signal === null && code === EXIT_BAD_CONFIG) return { action: 'stop' };
  const inARow = upMs >= STABLE_AFTER_MS ? 0 : failures;
  return { action: 'restart', delayMs: backoffMs(inARow), failures: inARow + 1 };
}

/** How a process exited, for a log line: `signal SIGKILL`, `code 1`. */
export function describeExit(code, signal) {
  return signal !== null ? `signal ${signal}` : `code ${code}`;
}
