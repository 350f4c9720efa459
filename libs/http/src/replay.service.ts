import { Injectable } from '@nestjs/common';
import type { ReplayBody } from './requests.js';
import { SimulationPool } from './simulation-pool.js';

/**
 * POST /runs/:id/replay: `mnsim replay <runId> [--kernel V] --json` over HTTP. Verify mode on the
 * recorded variant, counterfactual mode ("would the fix have caught this?") on another. Like a
 * run, the re-execution happens on a simulation thread.
 */
@Injectable()
export class ReplayService {
  constructor(private readonly pool: SimulationPool) {}

  replay(idOrPrefix: string, body: ReplayBody): Promise<object> {
    return this.pool.run({ kind: 'replay', id: idOrPrefix, body });
  }
}
