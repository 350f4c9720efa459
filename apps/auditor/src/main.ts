import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { loadClusterConfigOrExit, workerLogger } from '@mnsim/bus';
import { AuditorModule } from './auditor.module.js';

const config = loadClusterConfigOrExit('auditor');
const app = await NestFactory.createApplicationContext(AuditorModule.forRoot(config), {
  logger: workerLogger('auditor'),
});
app.enableShutdownHooks();
