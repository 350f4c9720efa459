/** The kvm worker's process: its module, started as every worker app is (startWorker). */
import { startWorker } from '@mnsim/bus';
import { KvmModule } from './kvm.module.js';

await startWorker('kvm', (config) => KvmModule.forRoot(config));
