import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { loadClusterConfigOrExit } from '@mnsim/bus';
import { OomKillerModule } from './oom-killer.module.js';

const config = loadClusterConfigOrExit('oom-killer');
const app = await NestFactory.createApplicationContext(OomKillerModule.forRoot(config), {
  logger: ['error', 'warn'],
});
app.enableShutdownHooks();
