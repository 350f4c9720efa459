import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { loadClusterConfigOrExit, stopWhenSupervisorGone, workerLogger } from '@mnsim/bus';
import { MmuNotifierModule } from './mmu-notifier.module.js';

stopWhenSupervisorGone();
const config = loadClusterConfigOrExit('mmu-notifier');
const app = await NestFactory.createApplicationContext(MmuNotifierModule.forRoot(config), {
  logger: workerLogger('mmu-notifier'),
});
app.enableShutdownHooks();
