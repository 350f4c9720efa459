import { Injectable } from '@nestjs/common';
import { FUZZ_SCENARIO_PREFIX, fuzzCampaignPrefix } from '@mnsim/scenarios';
import type {
  CampaignRow,
  SignatureCell,
  SignatureGroup,
  Store,
  ViolationFilter,
} from '@mnsim/store';
import { violationRowJson } from '@mnsim/runs';
import { DEFAULT_PAGE_SIZE, type SignaturesQuery, type ViolationsQuery } from './requests.js';
import { pagedQuery } from './cursor-guard.js';
import { InjectStore } from './store.provider.js';

/** The violation history, like `mnsim violations [--group-by signature]`. */
@Injectable()
export class ViolationsService {
  constructor(@InjectStore() private readonly store: Store) {}

  /** newest first, one keyset page */
  async list(q: ViolationsQuery): Promise<{ violations: object[]; nextCursor: string | null }> {
    const filter = await this.filter(q);
    const page = await pagedQuery(q.cursor, () =>
      this.store.queryViolations({
        ...filter,
        limit: q.limit ?? DEFAULT_PAGE_SIZE,
        cursor: q.cursor,
      }),
    );
    return { violations: page.rows.map(violationRowJson), nextCursor: page.nextCursor };
  }

  /** per signature: count, runs, kernels, arches, first and last seen; most frequent first */
  async signatures(q: SignaturesQuery): Promise<{ signatures: SignatureGroup[] }> {
    return { signatures: await this.store.groupBySignature(await this.filter(q)) };
  }

  /** the fuzz campaigns of the history, newest first */
  async campaigns(): Promise<{ campaigns: CampaignRow[] }> {
    return { campaigns: await this.store.listCampaigns(FUZZ_SCENARIO_PREFIX) };
  }

  /** per signature, kernel and arch: where each signature occurs */
  async matrix(q: SignaturesQuery): Promise<{ cells: SignatureCell[] }> {
    return { cells: await this.store.signatureMatrix(await this.filter(q)) };
  }

  private async filter(q: SignaturesQuery): Promise<ViolationFilter> {
    return {
      kind: q.kind,
      origin: q.origin,
      arch: q.arch,
      kernel: q.kernel,
      scenario: q.scenario,
      comm: q.comm,
      signature: q.signature,
      scenarioPrefix: q.campaign === undefined ? undefined : fuzzCampaignPrefix(q.campaign),
      since: q.since,
      // a prefix, like everywhere a run id is taken: unknown → 404, ambiguous → 400
      run: q.run === undefined ? undefined : await this.store.resolveRunId(q.run),
    };
  }
}
