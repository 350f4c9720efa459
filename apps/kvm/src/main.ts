import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { loadClusterConfigOrExit, stopWhenSupervisorGone, workerLogger } from '@mnsim/bus';
import { KvmModule } from './kvm.module.js';

stopWhenSupervisorGone();
const config = loadClusterConfigOrExit('kvm', { kvmArch: true });
const app = await NestFactory.createApplicationContext(KvmModule.forRoot(config), {
  logger: workerLogger('kvm'),
});
app.enableShutdownHooks();
