import { Injectable } from '@nestjs/common';
import { RecordedRun, replayLog } from '@mnsim/engine';
import type { Store } from '@mnsim/store';
import { violationJson } from '../../cli/src/format.js';
import type { ReplayBody } from './requests.js';
import { InjectStore } from './store.provider.js';

/**
 * POST /runs/:id/replay: `mnsim replay <runId> [--kernel V] --json` over HTTP. Verify mode on the
 * recorded variant, counterfactual mode ("would the fix have caught this?") on another. Like a
 * run, the re-execution is synchronous.
 */
@Injectable()
export class ReplayService {
  constructor(@InjectStore() private readonly store: Store) {}

  async replay(idOrPrefix: string, body: ReplayBody): Promise<object> {
    const run = await RecordedRun.open(this.store, idOrPrefix);
    const { report } = await replayLog(run, body?.kernel, body?.arch);
    return {
      ...report,
      violations: report.violations.map(violationJson),
      violationsDiff: {
        added: report.violationsDiff.added.map(violationJson),
        removed: report.violationsDiff.removed.map(violationJson),
      },
    };
  }
}
