/**
 * `mnsim replay --rebuild [runId]`: the violations table is a projection of the event log. Drop it
 * (all of it, or one run's rows) and rebuild it from the `violation` events alone, then check that
 * the result is the table as it was: same rows, same values, the wall clock included (a
 * violation's recordedAt is that of the event that carries it).
 */
import { createHash, type Hash } from 'node:crypto';
import { type ViolationPayload, canonicalJson } from '@mnsim/events';
import {
  MAX_PAGE_SIZE,
  type RunRow,
  type RunSummaryRow,
  type Store,
  type ViolationToAppend,
} from '@mnsim/store';
import { violationWithSeq } from '@mnsim/events';

const EVENT_PAGE = 5000;
const VIOLATION_BATCH = 1000;
/** runs listed in a report that found differences */
const DIFFERING_LISTED = 20;

export interface RebuildReport {
  /** runs whose logs were read */
  runs: number;
  /** violation rows before and after */
  before: number;
  after: number;
  /** whether the rebuilt table equals the one before, row for row */
  matches: boolean;
  /** runs whose rows differ (the first few) */
  differing: { runId: string; before: number; after: number }[];
}

/** @param runId an exact run id (resolve a prefix first); absent: every run */
export async function rebuildViolations(store: Store, runId?: string): Promise<RebuildReport> {
  const runs = runId === undefined ? await allRuns(store) : await oneRun(store, runId);
  const before = await digestViolations(store, runId);
  await store.deleteViolations(runId);
  for (const run of runs) await rebuildRun(store, run);
  const after = await digestViolations(store, runId);

  const differing: RebuildReport['differing'] = [];
  for (const id of new Set([...before.keys(), ...after.keys()])) {
    const b = before.get(id);
    const a = after.get(id);
    if (b?.digest !== a?.digest) {
      differing.push({ runId: id, before: b?.count ?? 0, after: a?.count ?? 0 });
    }
  }
  const total = (m: Map<string, RunDigest>): number =>
    [...m.values()].reduce((n, d) => n + d.count, 0);
  return {
    runs: runs.length,
    before: total(before),
    after: total(after),
    matches: differing.length === 0,
    differing: differing.slice(0, DIFFERING_LISTED),
  };
}

async function oneRun(store: Store, runId: string): Promise<RunRow[]> {
  const run = await store.getRun(runId);
  return run === null ? [] : [run];
}

async function allRuns(store: Store): Promise<RunSummaryRow[]> {
  const runs: RunSummaryRow[] = [];
  let cursor: string | null = null;
  do {
    const page = await store.listRuns({ limit: MAX_PAGE_SIZE, cursor });
    runs.push(...page.rows);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return runs;
}

/** One run's violations from its log: every `violation` event, stamped with the event's wall clock. */
async function rebuildRun(store: Store, run: RunSummaryRow): Promise<void> {
  let batch: ViolationToAppend[] = [];
  for await (const e of store.iterateEvents(run.runId, EVENT_PAGE)) {
    if (e.type !== 'violation') continue;
    const { violation } = e.payload as unknown as ViolationPayload;
    batch.push({
      eventId: e.id,
      v: violationWithSeq(e.seq, violation),
      scenario: run.scenario,
      kernel: run.kernel,
      arch: run.arch,
      recordedAt: e.recordedAt,
    });
    if (batch.length === VIOLATION_BATCH) {
      await store.appendEvents(run.runId, [], batch);
      batch = [];
    }
  }
  await store.appendEvents(run.runId, [], batch);
}

interface RunDigest {
  count: number;
  digest: string;
}

/**
 * A digest of each run's violation rows, every column included, read in the store's own order
 * (newest first): equal digests, equal rows. Holds one hash per run, not the rows.
 */
async function digestViolations(store: Store, runId?: string): Promise<Map<string, RunDigest>> {
  const hashes = new Map<string, { count: number; hash: Hash }>();
  let cursor: string | null = null;
  do {
    const page = await store.queryViolations({ run: runId, limit: MAX_PAGE_SIZE, cursor });
    for (const row of page.rows) {
      let h = hashes.get(row.runId);
      if (h === undefined) {
        h = { count: 0, hash: createHash('sha256') };
        hashes.set(row.runId, h);
      }
      h.count++;
      h.hash.update(canonicalJson(row) + '\n');
    }
    cursor = page.nextCursor;
  } while (cursor !== null);
  return new Map(
    [...hashes].map(([id, h]) => [id, { count: h.count, digest: h.hash.digest('hex') }]),
  );
}
