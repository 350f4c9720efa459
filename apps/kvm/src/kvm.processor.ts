/** The kvm worker: the KVM of one architecture (KVM_ARCH), its queue only. */
import { Injectable } from '@nestjs/common';
import { ComponentWorker } from '@mnsim/bus';
import type { Address } from '@mnsim/kernel';

@Injectable()
export class KvmProcessor extends ComponentWorker {
  protected addresses(): Address[] {
    return [`kvm:${this.config.KVM_ARCH ?? 'arm64'}`];
  }
}
