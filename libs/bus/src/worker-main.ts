/**
 * The main of a worker app, the same for each: its configuration (one line and exit status 2 if
 * it is wrong), its Nest application context logging one JSON object a line, shutdown on a
 * signal or when its supervisor is gone. An app that cannot start (a queue of its own without a
 * processor, a store it cannot open) says why in one JSON line and exits with the status of the
 * error's kind, rather than a stack trace and a process still holding its Redis connections.
 */
import 'reflect-metadata';
import type { DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { exitStatusOf } from '@mnsim/errors';
import { type ClusterConfig, loadClusterConfigOrExit } from './config.js';
import { workerLogger } from './logger.js';
import { stopWhenSupervisorGone } from './supervision.js';
import { type AppName, CLUSTER_APPS } from './topology.js';

export async function startWorker(
  app: AppName,
  moduleOf: (config: ClusterConfig) => DynamicModule,
): Promise<void> {
  stopWhenSupervisorGone();
  const perArch = CLUSTER_APPS.find((a) => a.name === app)?.perArch ?? false;
  const config = loadClusterConfigOrExit(app, { kvmArch: perArch });
  const logger = workerLogger(app);
  try {
    const context = await NestFactory.createApplicationContext(moduleOf(config), {
      logger,
      // an error at start is thrown here, not a process.abort()
      abortOnError: false,
    });
    context.enableShutdownHooks();
  } catch (err) {
    logger.fatal('cannot start', { reason: err instanceof Error ? err.message : String(err) });
    // its Workers may already hold connections: nothing else would end the process
    process.exit(exitStatusOf(err));
  }
}
