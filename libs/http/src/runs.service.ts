import { Injectable } from '@nestjs/common';
import { formatKernelLog, kernelLogFromEvent, type KernelLogLine } from '@mnsim/engine';
import { fuzzCampaignPrefix } from '@mnsim/scenarios';
import type { RunStartPayload } from '@mnsim/events';
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

/** the scenarios' default HZ, for a run with no run.start (an observed run): it has no line to stamp */
const DEFAULT_HZ = 250;

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
   * The run's kernel log, what dmesg shows, rebuilt from its events as `mnsim run` prints it (the
   * engine's kernel-log): each line with the seq of the event that printed it, so a splat's lines
   * name their violation.
   */
  async kernelLog(idOrPrefix: string) {
    const runId = await this.store.resolveRunId(idOrPrefix);
    const lines: KernelLogLine[] = [];
    let hz = DEFAULT_HZ;
    for await (const e of this.store.iterateEvents(runId, MAX_PAGE_SIZE)) {
      if (e.type === 'run.start') hz = (e.payload as unknown as RunStartPayload).scenario.hz;
      kernelLogFromEvent(e, lines);
    }
    const shown = formatKernelLog(lines, hz);
    return {
      runId,
      hz,
      lines: lines.map((l, i) => ({
        seq: l.seq,
        jiffies: l.jiffies,
        level: l.level,
        text: l.text,
        line: shown[i],
      })),
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
