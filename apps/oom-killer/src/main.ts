import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { loadClusterConfigOrExit, stopWhenSupervisorGone, workerLogger } from '@mnsim/bus';
import { OomKillerModule } from './oom-killer.module.js';

stopWhenSupervisorGone();
const config = loadClusterConfigOrExit('oom-killer');
const app = await NestFactory.createApplicationContext(OomKillerModule.forRoot(config), {
  logger: workerLogger('oom-killer'),
});
app.enableShutdownHooks();
