/**
 * Where the API simulates: a bounded pool of worker threads (piscina), each with its own store
 * connection, so that a run or a replay never holds the request thread — /health, the queries and
 * /metrics keep answering while the pool works. A request that finds every thread busy and the
 * queue full is refused at once with 429 and a Retry-After, rather than waiting without bound.
 *
 * With `threads: 0` (an in-memory SQLite store, which other threads cannot open) the tasks run on
 * the request thread, one at a time, under the same limits.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  HttpException,
  HttpStatus,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { Piscina } from 'piscina';
import { DEFAULT_RUN_LIMITS, type RunLimits } from '@mnsim/events';
import type { Store, StoreOptions } from '@mnsim/store';
import { errorBody } from './error-body.js';
import { DEFAULT_SHUTDOWN_GRACE_MS } from './shutdown-grace.js';
import { type SimulationOutcome, type SimulationTask, runTask } from './simulation-tasks.js';
import type { SimulationWorkerData } from './simulation-worker.js';

export interface SimulationPoolOptions {
  /** worker threads; 0: on the request thread (in-memory SQLite) */
  threads: number;
  /** tasks that may wait for a thread; past them, 429 */
  queue: number;
  /** how much lower than the request thread the threads run (nice(2)) */
  niceness: number;
  limits: Readonly<RunLimits>;
}

/** What the API's configuration may set of the pool; absent: the defaults. */
export interface SimulationSettings {
  threads?: number;
  queue?: number;
  niceness?: number;
  limits?: Readonly<RunLimits>;
}

/** How much lower than the request thread the simulation threads run by default (nice(2)). */
export const DEFAULT_SIMULATION_NICENESS = 10;

export const DEFAULT_SIMULATION_THREADS = Math.max(1, Math.min(4, availableParallelism()));

/**
 * The pool for a store and the API's settings: the threads asked for (default: the cores, at most
 * 4), none for an in-memory SQLite store; a queue of twice the threads unless set.
 */
export function simulationPoolOptions(
  store: StoreOptions,
  settings: SimulationSettings = {},
): SimulationPoolOptions {
  const inMemory = store.url === undefined && store.sqlitePath === ':memory:';
  const threads = inMemory ? 0 : (settings.threads ?? DEFAULT_SIMULATION_THREADS);
  return {
    threads,
    queue: settings.queue ?? 2 * Math.max(1, threads),
    niceness: settings.niceness ?? DEFAULT_SIMULATION_NICENESS,
    limits: settings.limits ?? DEFAULT_RUN_LIMITS,
  };
}

/** Refused because every thread is busy and the queue is full: 429 with Retry-After. */
export class SimulationPoolFullException extends HttpException {
  constructor(readonly retryAfterSeconds: number) {
    super(
      errorBody(
        HttpStatus.TOO_MANY_REQUESTS,
        `every simulation thread is busy and the queue is full: retry after ${retryAfterSeconds} s`,
      ),
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }
}

/**
 * The compiled worker: beside this module when it runs from the build; from the build's output
 * when this module runs from its TypeScript source (the tests), which cannot load as a thread.
 */
function workerFile(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const beside = join(here, 'simulation-worker.js');
  if (existsSync(beside)) return beside;
  return join(here, '../../../dist/libs/http/src/simulation-worker.js');
}

@Injectable()
export class SimulationPool implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('mnsim-api');
  private piscina: Piscina<SimulationTask, SimulationOutcome> | null = null;
  private readonly workerData: SimulationWorkerData;
  /** tasks accepted and not yet answered: running and queued */
  private inFlight = 0;
  /** a moving average of how long a task takes, for Retry-After */
  private meanTaskMs = 1000;
  /** the request-thread mode's one-at-a-time chain */
  private serial: Promise<unknown> = Promise.resolve();
  /** the API is stopping: a thread ended now was ended by the stop, not by a failure */
  private stopping = false;

  constructor(
    private readonly store: Store,
    storeOptions: StoreOptions,
    readonly options: SimulationPoolOptions,
    /** once stopping, how long the tasks still running may take before their threads end */
    private readonly closeGraceMs: number = DEFAULT_SHUTDOWN_GRACE_MS,
  ) {
    this.workerData = { store: storeOptions, limits: { ...options.limits } };
  }

  /** The threads start with the application, when they can (else with the first task). */
  onApplicationBootstrap(): void {
    if (this.options.threads > 0 && existsSync(workerFile())) this.threads();
  }

  /** The pool of threads, started on first use. */
  private threads(): Piscina<SimulationTask, SimulationOutcome> {
    if (this.piscina !== null) return this.piscina;
    const file = workerFile();
    if (!existsSync(file)) {
      throw new Error(
        `the simulation worker ${file} is missing: build the project (npm run build)`,
      );
    }
    this.piscina = new Piscina<SimulationTask, SimulationOutcome>({
      filename: file,
      // every thread started at once, each opening its store: the first runs do not wait for it
      minThreads: this.options.threads,
      maxThreads: this.options.threads,
      // the pool's own queue is never where a request waits past the bound: run() refuses first
      maxQueue: this.options.queue + this.options.threads,
      idleTimeout: Infinity,
      workerData: this.workerData,
      // a run within its limits needs far less; a thread past this dies, not the API
      resourceLimits: { maxOldGenerationSizeMb: 512 },
      // below the request thread: on a busy machine the requests are served first
      niceIncrement: this.options.niceness,
      closeTimeout: this.closeGraceMs,
    });
    // close() reports its timeout as an 'error' event, before it ends the threads
    this.piscina.on('error', (err: unknown) => {
      this.logger.warn(
        `stopping: simulations still running after ${this.closeGraceMs} ms, their threads ended (${err instanceof Error ? err.message : String(err)})`,
      );
    });
    return this.piscina;
  }

  /** tasks running or waiting */
  get pending(): number {
    return this.inFlight;
  }

  /**
   * The body of the task's answer.
   * @throws SimulationPoolFullException when the pool and its queue are full; an HttpException
   *   with the task's own status when it failed
   */
  async run(task: SimulationTask): Promise<object> {
    const capacity = Math.max(1, this.options.threads) + this.options.queue;
    if (this.inFlight >= capacity) throw new SimulationPoolFullException(this.retryAfter());
    this.inFlight++;
    const started = Date.now();
    try {
      const outcome = await this.execute(task);
      if (outcome.ok) return outcome.body;
      if (outcome.detail !== null) this.logger.error(outcome.detail);
      throw new HttpException(errorBody(outcome.status, outcome.message), outcome.status);
    } finally {
      this.inFlight--;
      this.meanTaskMs = 0.8 * this.meanTaskMs + 0.2 * (Date.now() - started);
    }
  }

  private async execute(task: SimulationTask): Promise<SimulationOutcome> {
    if (this.options.threads === 0) {
      const next = this.serial.then(() => runTask(this.store, task, this.options.limits));
      this.serial = next.catch(() => undefined);
      return next;
    }
    try {
      return await this.threads().run(task);
    } catch (err) {
      if (this.stopping) {
        // its client's connection was closed at the end of the grace; the log said so
        return {
          ok: false,
          status: HttpStatus.SERVICE_UNAVAILABLE,
          message: 'the API stopped before the simulation ended',
          detail: null,
        };
      }
      // the thread itself failed (out of memory, killed): the task's answer is lost with it
      this.logger.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
      return {
        ok: false,
        status: HttpStatus.SERVICE_UNAVAILABLE,
        message: `the simulation thread failed: ${err instanceof Error ? err.message : String(err)}`,
        detail: null,
      };
    }
  }

  /** seconds until a place is likely free: the queue ahead, at the recent pace */
  private retryAfter(): number {
    const threads = Math.max(1, this.options.threads);
    const waves = Math.ceil((this.inFlight - threads + 1) / threads);
    return Math.min(60, Math.max(1, Math.ceil((waves * this.meanTaskMs) / 1000)));
  }

  /** Waits for the tasks still running, up to the grace, then ends the threads. */
  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await this.piscina?.close();
  }
}
