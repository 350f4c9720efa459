/** The mmu-notifier worker's process: its module, started as every worker app is (startWorker). */
import { startWorker } from '@mnsim/bus';
import { MmuNotifierModule } from './mmu-notifier.module.js';

await startWorker('mmu-notifier', (config) => MmuNotifierModule.forRoot(config));
