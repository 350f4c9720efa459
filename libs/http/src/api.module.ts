import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import type { ClusterConfig } from '@mnsim/bus';
import { DEFAULT_RUN_TIMEOUT_MS } from '@mnsim/config';
import type { Store, StoreOptions } from '@mnsim/store';
import { ApiExceptionFilter } from './api-exception.filter.js';
import { HealthController } from './health.controller.js';
import { RedisHealthIndicator, StoreHealthIndicator } from './health.indicators.js';
import { MetricsController } from './metrics.controller.js';
import { OrchestratorModule } from './orchestrator/orchestrator.module.js';
import { CLUSTER, ClusterBus, type ClusterTarget, MetricsService } from './metrics.service.js';
import { ReplayService } from './replay.service.js';
import { RunsController } from './runs.controller.js';
import { RunLogService } from './run-log.service.js';
import { RunsService } from './runs.service.js';
import {
  SimulationPool,
  type SimulationPoolOptions,
  simulationPoolOptions,
} from './simulation-pool.js';
import { DEFAULT_SHUTDOWN_GRACE_MS, SHUTDOWN_GRACE_MS, ShutdownGrace } from './shutdown-grace.js';
import { RUN_TIMEOUT_MS, StaleRunSweep } from './stale-runs.service.js';
import { STORE, StoreLifecycle } from './store.provider.js';
import { ViolationsController } from './violations.controller.js';
import { ViolationsService } from './violations.service.js';
import { ZodValidationPipe } from './zod-validation.pipe.js';

/** What ApiModule.forStore builds the API with, beside its store; absent: the defaults. */
export interface ApiModuleOptions {
  /** the cluster whose queues /metrics reports */
  cluster?: ClusterTarget;
  /** the cluster this api orchestrates */
  orchestrator?: ClusterConfig | null;
  runTimeoutMs?: number;
  /** where runs and replays are simulated: default on the request thread, one at a time */
  simulation?: { store: StoreOptions; pool: SimulationPoolOptions };
  /** how long requests in flight, then the simulations still running, may take once stopping */
  shutdownGraceMs?: number;
}

/**
 * The HTTP API over one open Store, which the module closes when the application shuts down; with
 * `orchestrator`, also the orchestrator of that cluster's runs (its queue workers close first).
 * While it runs, the runs with no sign of life for `runTimeoutMs` are failed (StaleRunSweep). Runs
 * and replays are simulated by `simulation.pool`'s threads, each with a connection to
 * `simulation.store` (none: on the request thread). Stopping takes at most twice the shutdown
 * grace (ShutdownGrace).
 */
@Module({})
export class ApiModule {
  static forStore(store: Store, opts: ApiModuleOptions = {}): DynamicModule {
    const orchestrator = opts.orchestrator ?? null;
    const simulation = opts.simulation ?? {
      store: {},
      pool: simulationPoolOptions({ sqlitePath: ':memory:' }, { queue: 0 }),
    };
    return {
      module: ApiModule,
      imports: [
        // a failed check is in its answer; terminus would also log each one as an error
        TerminusModule.forRoot({ logger: false }),
        ...(orchestrator ? [OrchestratorModule.forRoot(orchestrator)] : []),
      ],
      controllers: [RunsController, ViolationsController, HealthController, MetricsController],
      providers: [
        { provide: STORE, useValue: store },
        { provide: CLUSTER, useValue: opts.cluster ?? null },
        { provide: RUN_TIMEOUT_MS, useValue: opts.runTimeoutMs ?? DEFAULT_RUN_TIMEOUT_MS },
        { provide: SHUTDOWN_GRACE_MS, useValue: opts.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS },
        ShutdownGrace,
        StaleRunSweep,
        ClusterBus,
        MetricsService,
        StoreLifecycle,
        RunsService,
        RunLogService,
        {
          provide: SimulationPool,
          useFactory: (s: Store, grace: ShutdownGrace) =>
            new SimulationPool(s, simulation.store, simulation.pool, grace.graceMs),
          inject: [STORE, ShutdownGrace],
        },
        ReplayService,
        ViolationsService,
        StoreHealthIndicator,
        RedisHealthIndicator,
        { provide: APP_PIPE, useClass: ZodValidationPipe },
        { provide: APP_FILTER, useClass: ApiExceptionFilter },
      ],
    };
  }
}
