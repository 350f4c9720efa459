/**
 * A bound on how long the api waits for something it does not control (Redis, the store), for
 * the answers that must come back in time whatever those do: /health and /metrics.
 */

/**
 * How long one check of /health, or /metrics' read of the queues, may take before it counts as
 * down; the compose probe allows 4 s.
 */
export const HEALTH_CHECK_TIMEOUT_MS = 1000;

/** what `within` rejects with once its time has passed */
export class TimedOut extends Error {}

/** `work`, or a TimedOut once `ms` have passed (the work itself goes on, unawaited) */
export async function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimedOut()), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
