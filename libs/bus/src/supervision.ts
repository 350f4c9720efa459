/**
 * What a service process does for whatever supervises it: `npm run cluster` (scripts/cluster.mjs)
 * or a container runtime (docker-compose.yml). Shared by every app's main, the api's too.
 */
import { rm, utimes, writeFile } from 'node:fs/promises';

/** How long a process given up by its supervisor has to close before it exits regardless. */
export const ORPHAN_EXIT_MS = 10_000;

/**
 * For a service's main, first thing: when the process was started with an IPC channel (the
 * cluster supervisor spawns its children so) and that channel goes, the supervisor has died;
 * the process then stops as on SIGTERM (jobs in flight finish, connections close), and exits
 * regardless after ORPHAN_EXIT_MS. Without a channel (a container, a shell) it does nothing.
 */
export function stopWhenSupervisorGone(): void {
  if (typeof process.send !== 'function') return;
  process.once('disconnect', () => {
    setTimeout(() => process.exit(1), ORPHAN_EXIT_MS).unref();
    // Nest's shutdown hooks and the api's serve() listen for it; before they are installed the
    // signal's default action ends the process at once, which is as good
    process.kill(process.pid, 'SIGTERM');
  });
  // listening for 'disconnect' holds the event loop open on the channel: it must not keep a
  // process that has closed everything else (after SIGTERM) from exiting
  process.channel?.unref();
}

/** How often a live worker touches its heartbeat file. */
export const HEARTBEAT_INTERVAL_MS = 5_000;
/** How old the file may be for the process to count as healthy (docker-compose.yml's checks). */
export const HEARTBEAT_MAX_AGE_MS = 20_000;

/**
 * A worker's liveness for a health check that cannot ask it over HTTP (a container's): every
 * HEARTBEAT_INTERVAL_MS, while `alive()` says so (its Redis connection answers), the file's
 * modification time is set to now. The returned stop removes the file, so a stopping process is
 * unhealthy at once. The check is the file's age (docker-compose.yml).
 */
export function startHeartbeat(
  file: string,
  alive: () => Promise<boolean>,
  intervalMs = HEARTBEAT_INTERVAL_MS,
): () => Promise<void> {
  let stopped = false;
  // one beat at a time: while Redis does not answer, the ticks in between are skipped
  let beat: Promise<void> | null = null;
  const touch = async (): Promise<void> => {
    if (!(await alive().catch(() => false)) || stopped) return;
    const now = new Date();
    await utimes(file, now, now).catch(() => writeFile(file, ''));
    // stopped while writing: the file must not outlive the stop
    if (stopped) await rm(file, { force: true });
  };
  const tick = (): void => {
    beat ??= touch()
      .catch(() => undefined)
      .finally(() => (beat = null));
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await rm(file, { force: true });
  };
}
