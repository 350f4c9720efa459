import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { loadClusterConfigOrExit, stopWhenSupervisorGone, workerLogger } from '@mnsim/bus';
import { AuditorModule } from './auditor.module.js';

stopWhenSupervisorGone();
const config = loadClusterConfigOrExit('auditor');
const app = await NestFactory.createApplicationContext(AuditorModule.forRoot(config), {
  logger: workerLogger('auditor'),
});
app.enableShutdownHooks();
