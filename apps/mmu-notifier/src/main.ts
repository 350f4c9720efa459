import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { loadClusterConfigOrExit, workerLogger } from '@mnsim/bus';
import { MmuNotifierModule } from './mmu-notifier.module.js';

const config = loadClusterConfigOrExit('mmu-notifier');
const app = await NestFactory.createApplicationContext(MmuNotifierModule.forRoot(config), {
  logger: workerLogger('mmu-notifier'),
});
app.enableShutdownHooks();
