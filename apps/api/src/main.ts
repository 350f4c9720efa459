#!/usr/bin/env node
/**
 * The api as a process of its own (containers, `npm run cluster`): bootstrap only. With
 * MNSIM_REDIS_URL it is also the cluster's orchestrator (config.ts). It logs as the workers do,
 * one JSON object a line (Nest's messages and its own), for the same log shipper; `mnsim serve`,
 * run by hand, keeps Nest's text lines.
 */
import { stopWhenSupervisorGone, workerLogger } from '@mnsim/bus';
import { exitStatusOf } from '@mnsim/errors';
import { loadApiConfig, serve } from '@mnsim/http';

stopWhenSupervisorGone();
try {
  const logger = workerLogger('api');
  await serve(loadApiConfig(process.env), (line) => logger.log(line), { logger });
} catch (err) {
  process.stderr.write(`mnsim serve: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = exitStatusOf(err);
}
