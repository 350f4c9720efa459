/** The auditor worker's process: its module, started as every worker app is (startWorker). */
import { startWorker } from '@mnsim/bus';
import { AuditorModule } from './auditor.module.js';

await startWorker('auditor', (config) => AuditorModule.forRoot(config));
