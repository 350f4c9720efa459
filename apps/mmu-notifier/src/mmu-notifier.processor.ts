/** The mmu-notifier worker: the mm component (mm state, the notifier chain). */
import { Injectable } from '@nestjs/common';
import { ComponentWorker } from '@mnsim/bus';
import type { Address } from '@mnsim/kernel';

@Injectable()
export class MmuNotifierProcessor extends ComponentWorker {
  protected addresses(): Address[] {
    return ['mm'];
  }
}
