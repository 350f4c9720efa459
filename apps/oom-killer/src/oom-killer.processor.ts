/** The oom-killer worker: the oom component (out_of_memory, the oom_reaper). */
import { Injectable } from '@nestjs/common';
import { ComponentWorker } from '@mnsim/bus';
import type { Address } from '@mnsim/kernel';

@Injectable()
export class OomKillerProcessor extends ComponentWorker {
  protected addresses(): Address[] {
    return ['oom'];
  }
}
