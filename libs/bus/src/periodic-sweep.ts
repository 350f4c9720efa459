/**
 * A sweep run every interval, the loop that the chain watchdog and the stale-run sweeper share:
 * one sweep at a time (the ticks that come while one waits on a slow or absent Redis or database
 * are skipped); a sweep that fails is logged at most once per WARN_QUIET_MS, as its service is
 * away, and the next tick tries again; stop() waits for the sweep under way, but no longer than
 * STOP_WAIT_MS, as its connection is about to close. The timer alone keeps no process alive.
 */
import type { BusLogger } from './logger.js';

const WARN_QUIET_MS = 30_000;
const STOP_WAIT_MS = 1_000;

export class PeriodicSweep<T> {
  private timer: NodeJS.Timeout | null = null;
  /** the sweep under way, if any */
  private inFlight: Promise<T> | null = null;
  private stopped = false;
  /** when a failed sweep was last logged */
  private lastWarned = 0;

  /**
   * @param body one sweep; what it throws is logged as `failed` says, and the sweep yields `none`
   * @param none what a failed sweep yields
   * @param failed the warning logged when a sweep fails, e.g. "stale runs not swept (retrying)"
   */
  constructor(
    private readonly body: () => Promise<T>,
    private readonly none: T,
    private readonly log: BusLogger,
    private readonly failed: string,
    readonly intervalMs: number,
  ) {}

  start(): void {
    if (this.timer) return;
    this.stopped = false;
    this.timer = setInterval(() => {
      if (this.inFlight) return;
      this.inFlight = this.sweep().finally(() => {
        this.inFlight = null;
      });
    }, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const inFlight = this.inFlight;
    if (!inFlight) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([inFlight, new Promise((r) => (timer = setTimeout(r, STOP_WAIT_MS)))]);
    clearTimeout(timer);
  }

  /** One sweep now; never throws (it logs). */
  async sweep(): Promise<T> {
    try {
      return await this.body();
    } catch (err) {
      const now = Date.now();
      if (!this.stopped && now - this.lastWarned >= WARN_QUIET_MS) {
        this.lastWarned = now;
        this.log('warn', this.failed, {
          reason: err instanceof Error ? err.message : String(err),
        });
      }
      return this.none;
    }
  }
}
