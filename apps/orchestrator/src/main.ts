import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { loadClusterConfigOrExit } from '@mnsim/bus';
import { OrchestratorModule } from './orchestrator.module.js';

const config = loadClusterConfigOrExit('orchestrator');
const app = await NestFactory.createApplicationContext(OrchestratorModule.forRoot(config), {
  logger: ['error', 'warn'],
});
app.enableShutdownHooks();
