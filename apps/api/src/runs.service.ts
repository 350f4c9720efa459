import { Injectable, InternalServerErrorException, Logger } from '@nestjs/common';
import { MAX_PAGE_SIZE, RunNotFoundError, type RunRow, type Store } from '@mnsim/store';
import { runJson } from '../../cli/src/format.js';
import { runEmbedded } from '../../cli/src/run-embedded.js';
import {
  type CreateRunBody,
  DEFAULT_PAGE_SIZE,
  type EventsQuery,
  type ListRunsQuery,
} from './requests.js';
import { pagedQuery } from './cursor-guard.js';
import { ScenarioSourceService } from './scenario-source.service.js';
import { InjectStore } from './store.provider.js';

/** A run as GET /runs lists it: the row without the scenario source (up to the body limit each). */
export type RunSummary = Omit<RunRow, 'source'>;

@Injectable()
export class RunsService {
  private readonly logger = new Logger('mnsim-api');

  constructor(
    @InjectStore() private readonly store: Store,
    private readonly scenarios: ScenarioSourceService,
  ) {}

  async list(q: ListRunsQuery): Promise<{ runs: RunSummary[]; nextCursor: string | null }> {
    const page = await pagedQuery(q.cursor, () =>
      this.store.listRuns({
        scenario: q.scenario,
        kernel: q.kernel,
        arch: q.arch,
        status: q.status,
        limit: q.limit ?? DEFAULT_PAGE_SIZE,
        cursor: q.cursor,
      }),
    );
    return { runs: page.rows.map(summary), nextCursor: page.nextCursor };
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
        payload: JSON.parse(e.encodedPayload) as unknown,
        recordedAt: e.recordedAt,
      })),
      nextAfterSeq: rows.length > limit ? page[page.length - 1].seq : null,
    };
  }

  /**
   * Runs the scenario embedded, in this process, and records it like `mnsim run`; the answer is
   * `mnsim run --json`'s object. The simulation is synchronous: the server answers nothing else
   * while it runs (the scenario limits bound how long that is).
   */
  async create(body: CreateRunBody): Promise<object> {
    const { scenario, source } = this.scenarios.resolve(body);
    try {
      const run = await runEmbedded(this.store, scenario, source, {
        kernel: body.kernel,
        seed: body.seed,
      });
      return runJson(run);
    } catch (err) {
      // runEmbedded has marked the run failed with this reason
      this.logger.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
      throw new InternalServerErrorException(
        `the run failed: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
}

function summary(run: RunRow): RunSummary {
  const { source: _source, ...rest } = run;
  return rest;
}
