/**
 * A bounded shutdown. Nest closes the HTTP server between the beforeApplicationShutdown and the
 * onApplicationShutdown hooks, and Node's `server.close()` waits for every request in flight: one
 * client that never finishes its body, a log read at a trickle, or a replay on a starved
 * simulation thread would keep `mnsim serve` from stopping without bound, until its supervisor
 * kills it mid-write. Requests in flight get the grace to finish; at its end their connections
 * are closed, with one line saying how many. The simulation pool then gives the tasks still
 * running as long again (SimulationPool.onApplicationShutdown).
 */
import type { Server } from 'node:http';
import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';

/** Injection token of the grace in ms (ApiConfig.shutdownGraceMs). */
export const SHUTDOWN_GRACE_MS = Symbol('mnsim.shutdownGraceMs');

/**
 * How long requests in flight may take to finish once the API is stopping, and as long again the
 * simulations still running: 4 s, so that both fit in the 10 s a container is given by default
 * between SIGTERM and SIGKILL.
 */
export const DEFAULT_SHUTDOWN_GRACE_MS = 4000;

/** How often, during the grace, the connections that have become idle are closed. */
const IDLE_SWEEP_MS = 50;

@Injectable()
export class ShutdownGrace implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('mnsim-api');
  private timer: NodeJS.Timeout | null = null;
  private sweep: NodeJS.Timeout | null = null;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(SHUTDOWN_GRACE_MS) readonly graceMs: number,
  ) {}

  beforeApplicationShutdown(): void {
    const server = this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
    if (server === undefined || this.timer !== null) return;
    // Node closes the connections idle when close() is called, not those that become idle after:
    // a request answered during the grace would leave its keep-alive connection open until the end
    this.sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
    this.sweep.unref();
    this.timer = setTimeout(() => {
      server.getConnections((err, open) => {
        if (err === null && open > 0) {
          this.logger.warn(
            `stopping: ${open} connection${open === 1 ? '' : 's'} still open after ${this.graceMs} ms: closing ${open === 1 ? 'it' : 'them'}`,
          );
        }
        server.closeAllConnections();
      });
    }, this.graceMs);
    // never what keeps the process alive
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.sweep !== null) clearInterval(this.sweep);
  }
}
