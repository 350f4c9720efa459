import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { loadClusterConfigOrExit, workerLogger } from '@mnsim/bus';
import { OrchestratorModule } from './orchestrator.module.js';

const config = loadClusterConfigOrExit('orchestrator');
const app = await NestFactory.createApplicationContext(OrchestratorModule.forRoot(config), {
  logger: workerLogger('orchestrator'),
});
app.enableShutdownHooks();
