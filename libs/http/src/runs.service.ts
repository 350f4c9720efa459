import { Injectable } from '@nestjs/common';
import { fuzzCampaignPrefix } from '@mnsim/scenarios';
import {
  MAX_PAGE_SIZE,
  RunNotFoundError,
  type RunRow,
  type RunSummaryRow,
  type Store,
} from '@mnsim/store';
import {
  type CreateRunBody,
  DEFAULT_PAGE_SIZE,
  type EventsQuery,
  type ListRunsQuery,
} from './requests.js';
import { pagedQuery } from './cursor-guard.js';
import { SimulationPool } from './simulation-pool.js';
import { InjectStore } from './store.provider.js';

@Injectable()
export class RunsService {
  constructor(
    @InjectStore() private readonly store: Store,
    private readonly pool: SimulationPool,
  ) {}

  async list(q: ListRunsQuery): Promise<{ runs: RunSummaryRow[]; nextCursor: string | null }> {
    const page = await pagedQuery(q.cursor, () =>
      this.store.listRuns({
        origin: q.origin,
        signature: q.signature,
        scenarioPrefix: q.campaign === undefined ? undefined : fuzzCampaignPrefix(q.campaign),
        scenario: q.scenario,
        kernel: q.kernel,
        arch: q.arch,
        status: q.status,
        limit: q.limit ?? DEFAULT_PAGE_SIZE,
        cursor: q.cursor,
      }),
    );
    return { runs: page.rows, nextCursor: page.nextCursor };
  }

  /** the run a full id or a unique prefix names, with its scenario source */
  async get(idOrPrefix: string): Promise<RunRow> {
    const runId = await this.store.resolveRunId(idOrPrefix);
    const run = await this.store.getRun(runId);
    if (run === null) throw new RunNotFoundError(idOrPrefix);
    return run;
  }

  /** one page of the run's event log in seq order, payloads parsed */
  async events(idOrPrefix: string, q: EventsQuery) {
    const runId = await this.store.resolveRunId(idOrPrefix);
    const limit = Math.min(q.limit ?? DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
    // one more than asked: whether a next page exists without a count over the whole log
    const rows = await this.store.readEvents(runId, { afterSeq: q.afterSeq, limit: limit + 1 });
    const page = rows.slice(0, limit);
    return {
      runId,
      events: page.map((e) => ({
        seq: e.seq,
        id: e.id,
        type: e.type,
        causationId: e.causationId,
        jiffies: e.jiffies,
        payload: e.payload,
        recordedAt: e.recordedAt,
      })),
      nextAfterSeq: rows.length > limit ? page[page.length - 1].seq : null,
    };
  }

  /**
   * Runs the scenario embedded, on a simulation thread, and records it like `mnsim run`; the answer
   * is `mnsim run --json`'s object. A run stopped by a limit is recorded failed and answers 422.
   */
  create(body: CreateRunBody): Promise<object> {
    return this.pool.run({ kind: 'run', body });
  }
}
