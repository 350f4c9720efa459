import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { loadClusterConfigOrExit } from '@mnsim/bus';
import { AuditorModule } from './auditor.module.js';

const config = loadClusterConfigOrExit('auditor');
const app = await NestFactory.createApplicationContext(AuditorModule.forRoot(config), {
  logger: ['error', 'warn'],
});
app.enableShutdownHooks();
