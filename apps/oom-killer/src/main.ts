/** The oom-killer worker's process: its module, started as every worker app is (startWorker). */
import { startWorker } from '@mnsim/bus';
import { OomKillerModule } from './oom-killer.module.js';

await startWorker('oom-killer', (config) => OomKillerModule.forRoot(config));
