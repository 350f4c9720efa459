import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type EventType,
  type Json,
  LogInterner,
  type RunEvent,
  type Violation,
  defLine,
} from '@mnsim/events';
import {
  AmbiguousRunIdError,
  InvalidStoreInputError,
  openStore,
  RunConflictError,
  RunNotFoundError,
  type Store,
  type EventToAppend,
  type ViolationRow,
  type ViolationToAppend,
  MAX_PAGE_SIZE,
} from './index.js';
import { TEST_DIALECTS, type TestDatabase } from './test-dialects.js';
import { TestLogs } from './test-events.js';

/** the lines of the runs' logs: each test's runs are new runs */
let logs = new TestLogs();
beforeEach(() => {
  logs = new TestLogs();
});

const T0 = Date.parse('2026-11-24T10:00:00.000Z');
const at = (second: number): string => new Date(T0 + second * 1000).toISOString();

interface RunSpec {
  runId: string;
  scenario: string;
  kernel: string;
  arch: string;
}

function event(
  runId: string,
  seq: number,
  opts: { type?: EventType; second?: number; payload?: Json } = {},
): EventToAppend & { payload: Json } {
  const e: RunEvent = {
    runId,
    id: seq === 0 ? 'run' : `run.${seq - 1}`,
    seq,
    type: opts.type ?? (seq === 0 ? 'run.start' : 'call'),
    causationId: seq === 0 ? null : seq === 1 ? 'run' : `run.${seq - 2}`,
    jiffies: seq * 2,
    payload: opts.payload ?? { seq, fn: 'kvm_unmap_hva_range' },
    recordedAt: at(opts.second ?? seq),
  };
  return logs.toAppend(e);
}

function violation(seq: number, opts: { comm?: string; signature?: string } = {}): Violation {
  const fn = opts.signature ?? 'unmap_stage2_range';
  return {
    seq,
    kind: 'atomic-sleep',
    jiffies: seq * 2,
    site: 'arch/arm64/kvm/mmu.c:394',
    inAtomic: 1,
    irqsDisabled: 0,
    nonBlock: 1,
    pid: 36,
    comm: opts.comm ?? 'oom_reaper',
    reported: seq % 2 === 0,
    signature: `BUG: sleeping function called from invalid context in ${fn}`,
    stack: ['___might_sleep', fn, 'kvm_unmap_hva_handler', 'ret_from_fork'],
    text: `BUG: sleeping function called from invalid context at arch/arm64/kvm/mmu.c:394\nin_atomic(): 1`,
  };
}

/**
 * Writes a run whose events at `violationSeqs` are violations; each event's wall clock is
 * `secondOf(seq)`.
 */
async function writeRun(
  store: Store,
  run: RunSpec,
  opts: {
    events: number;
    violations?: { seq: number; comm?: string; signature?: string }[];
    secondOf?: (seq: number) => number;
  },
): Promise<{ events: EventToAppend[]; violations: ViolationToAppend[] }> {
  await store.createRun({ ...run, seed: 1, source: 'name: test\n' });
  const bySeq = new Map((opts.violations ?? []).map((v) => [v.seq, v]));
  const events: EventToAppend[] = [];
  const violations: ViolationToAppend[] = [];
  for (let seq = 0; seq < opts.events; seq++) {
    const v = bySeq.get(seq);
    const e = event(run.runId, seq, {
      type: v ? 'violation' : undefined,
      second: opts.secondOf?.(seq) ?? seq,
    });
    events.push(e);
    if (v) {
      violations.push({
        eventId: e.event.id,
        v: violation(seq, v),
        scenario: run.scenario,
        kernel: run.kernel,
        arch: run.arch,
      });
    }
  }
  await store.appendEvents(run.runId, events, violations);
  return { events, violations };
}

async function allViolations(
  store: Store,
  filter: Parameters<Store['queryViolations']>[0],
): Promise<ViolationRow[]> {
  const rows: ViolationRow[] = [];
  let cursor: string | null = null;
  do {
    const page: Awaited<ReturnType<Store['queryViolations']>> = await store.queryViolations({
      ...filter,
      cursor,
    });
    rows.push(...page.rows);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return rows;
}

describe.each(TEST_DIALECTS)('store on $dialect', ({ dialect, setup }) => {
  let db: TestDatabase;
  let store: Store;

  beforeEach(async () => {
    db = setup();
    store = await openStore(db.options);
  });

  afterEach(async () => {
    await store.close();
    await db.cleanup();
  });

  it('reports its dialect', () => {
    expect(store.dialect).toBe(dialect);
  });

  describe('runs', () => {
    const run = { runId: 'r-0001', scenario: 'oom-reap-arm64', kernel: '5.8', arch: 'arm64' };

    it('creates, reads and finishes a run', async () => {
      await store.createRun({ ...run, seed: 4_000_000_000, source: 'name: oom-reap-arm64\n' });
      const created = await store.getRun(run.runId);
      expect(created).toMatchObject({
        ...run,
        seed: 4_000_000_000,
        status: 'running',
        events: 0,
        violations: 0,
        logHash: null,
        failureReason: null,
        finishedAt: null,
        source: 'name: oom-reap-arm64\n',
      });
      expect(created?.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

      await store.finishRun(run.runId, {
        status: 'failed',
        events: 12,
        logHash: 'sha256:ab',
        violations: 3,
        failureReason: 'oom-killer worker gone',
      });
      const finished = await store.getRun(run.runId);
      expect(finished).toMatchObject({
        status: 'failed',
        events: 12,
        logHash: 'sha256:ab',
        violations: 3,
        failureReason: 'oom-killer worker gone',
      });
      expect(Date.parse(finished?.finishedAt ?? '')).toBeGreaterThanOrEqual(
        Date.parse(created?.createdAt ?? ''),
      );
    });

    it('creating the same run again is a no-op, a different one under the id an error', async () => {
      await store.createRun({ ...run, seed: 1 });
      await store.createRun({ ...run, seed: 1 });
      expect((await store.listRuns({ limit: 10 })).rows).toHaveLength(1);
      await expect(store.createRun({ ...run, seed: 2 })).rejects.toBeInstanceOf(RunConflictError);
    });

    it('finishing or reading an unknown run', async () => {
      expect(await store.getRun('nope')).toBeNull();
      await expect(
        store.finishRun('nope', { status: 'completed', events: 0, logHash: null, violations: 0 }),
      ).rejects.toBeInstanceOf(RunNotFoundError);
    });

    it('lists runs newest first with filters and cursor paging', async () => {
      const kernels = ['5.8', '5.8+flags', '5.8+fix'];
      for (let i = 0; i < 9; i++) {
        await store.createRun({
          runId: `run-${i}`,
          scenario: i % 2 === 0 ? 'even' : 'odd',
          kernel: kernels[i % 3],
          arch: 'x86',
          seed: i,
        });
      }
      await store.finishRun('run-4', {
        status: 'completed',
        events: 1,
        logHash: null,
        violations: 0,
      });

      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: Awaited<ReturnType<Store['listRuns']>> = await store.listRuns({
          limit: 2,
          cursor,
        });
        expect(page.rows.length).toBeLessThanOrEqual(2);
        seen.push(...page.rows.map((r) => r.runId));
        cursor = page.nextCursor;
      } while (cursor !== null);
      expect([...seen].sort()).toEqual(Array.from({ length: 9 }, (_, i) => `run-${i}`));
      const all = (await store.listRuns({ limit: 100 })).rows;
      expect(all.map((r) => r.runId)).toEqual(seen);
      for (let i = 1; i < all.length; i++) {
        expect(all[i - 1].createdAt >= all[i].createdAt).toBe(true);
      }

      const ids = async (filter: Omit<Parameters<Store['listRuns']>[0], 'limit'>) =>
        (await store.listRuns({ ...filter, limit: 100 })).rows.map((r) => r.runId).sort();
      expect(await ids({ scenario: 'odd' })).toEqual(['run-1', 'run-3', 'run-5', 'run-7']);
      expect(await ids({ kernel: '5.8+fix' })).toEqual(['run-2', 'run-5', 'run-8']);
      expect(await ids({ kernel: '5.8+fix', scenario: 'even' })).toEqual(['run-2', 'run-8']);
      expect(await ids({ arch: 'arm64' })).toEqual([]);
      expect(await ids({ status: 'completed' })).toEqual(['run-4']);
    });

    it('lists runs without their sources, which getRun has', async () => {
      const source = `name: big\n# ${'x'.repeat(100_000)}\n`;
      await store.createRun({ ...run, seed: 1, source });
      const [listed] = (await store.listRuns({ limit: 1 })).rows;
      expect(listed.runId).toBe(run.runId);
      expect(listed).not.toHaveProperty('source');
      expect((await store.getRun(run.runId))?.source).toBe(source);
    });

    it('counts every run by status, past any page size', async () => {
      const n = 1_203;
      for (let i = 0; i < n; i += 100) {
        await Promise.all(
          Array.from({ length: Math.min(100, n - i) }, (_, j) =>
            store.createRun({ ...run, runId: `count-${i + j}`, seed: i + j }),
          ),
        );
      }
      for (const id of ['count-0', 'count-1']) {
        await store.finishRun(id, { status: 'completed', events: 1, logHash: null, violations: 0 });
      }
      await store.finishRun('count-2', {
        status: 'failed',
        events: 0,
        logHash: null,
        violations: 0,
        failureReason: 'x',
      });
      expect(await store.countRuns()).toEqual({ running: n - 3, completed: 2, failed: 1 });
    });

    it('rejects a malformed cursor with a clear error', async () => {
      await expect(store.listRuns({ limit: 1, cursor: 'garbage' })).rejects.toBeInstanceOf(
        InvalidStoreInputError,
      );
    });
  });

  describe('resolveRunId', () => {
    beforeEach(async () => {
      for (const runId of ['abc123', 'abc456', 'abd000', 'x%y']) {
        await store.createRun({ runId, scenario: 's', kernel: '5.8', arch: 'x86', seed: 1 });
      }
    });

    it('resolves an exact id and a unique prefix', async () => {
      expect(await store.resolveRunId('abc456')).toBe('abc456');
      expect(await store.resolveRunId('abc1')).toBe('abc123');
      expect(await store.resolveRunId('abd')).toBe('abd000');
      expect(await store.resolveRunId('x%')).toBe('x%y');
    });

    // issue 15, finding 3: an imported run `1` shadows every id that begins with 1. An exact id
    // wins (as a full ref does in git), or that run could never be named while the others exist;
    // the others stay reachable by any longer prefix.
    it('an exact id wins over the same text as a prefix of longer ids', async () => {
      await store.createRun({ runId: '1', scenario: 's', kernel: '5.8', arch: 'x86', seed: 1 });
      for (const runId of ['1f0c2d4e-aaaa', '1f0c2d4e-bbbb']) {
        await store.createRun({ runId, scenario: 's', kernel: '5.8', arch: 'x86', seed: 1 });
      }
      expect(await store.resolveRunId('1')).toBe('1');
      await expect(store.resolveRunId('1f')).rejects.toBeInstanceOf(AmbiguousRunIdError);
      expect(await store.resolveRunId('1f0c2d4e-b')).toBe('1f0c2d4e-bbbb');
      expect(await store.resolveRunId('abc123')).toBe('abc123');
    });

    it('names the candidates of an ambiguous prefix', async () => {
      const err: unknown = await store.resolveRunId('abc').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AmbiguousRunIdError);
      expect((err as AmbiguousRunIdError).candidates).toEqual(['abc123', 'abc456']);
      expect((err as Error).message).toContain('abc123, abc456');
      await expect(store.resolveRunId('ab')).rejects.toBeInstanceOf(AmbiguousRunIdError);
    });

    it('reports a prefix that matches nothing, literally and case-sensitively', async () => {
      await expect(store.resolveRunId('zzz')).rejects.toBeInstanceOf(RunNotFoundError);
      await expect(store.resolveRunId('ABC1')).rejects.toBeInstanceOf(RunNotFoundError);
      await expect(store.resolveRunId('a_c')).rejects.toBeInstanceOf(RunNotFoundError);
      await expect(store.resolveRunId('%')).rejects.toBeInstanceOf(RunNotFoundError);
      await expect(store.resolveRunId('  ')).rejects.toBeInstanceOf(InvalidStoreInputError);
    });
  });

  describe('events', () => {
    const run = { runId: 'r-ev', scenario: 'oom-reap-arm64', kernel: '5.8', arch: 'arm64' };

    it('stores the lines byte for byte and the envelope exactly, and reads the payload back', async () => {
      await store.createRun({ ...run, seed: 1 });
      const payload = { z: 1, a: 'ünïcødé \u2028', n: [1.5, -0, null], o: { k: [{ x: 'y' }] } };
      const e = event(run.runId, 0, { payload });
      const next = event(run.runId, 1, { payload: { ...payload, z: 2 } });
      await store.appendEvents(run.runId, [e, next], []);
      const stored = await store.readEvents(run.runId, { limit: 10 });
      expect(stored[0]).toEqual({
        runId: run.runId,
        id: 'run',
        seq: 0,
        type: 'run.start',
        causationId: null,
        jiffies: 0,
        payload: JSON.parse(JSON.stringify(payload)),
        recordedAt: e.event.recordedAt,
      });
      expect(stored[1].payload).toEqual({
        ...(stored[0].payload as object),
        z: 2,
      });
      const log: string[][] = [];
      for await (const x of store.iterateLog(run.runId)) log.push(x.lines);
      expect(log).toEqual([e.lines, next.lines]);
      // the second event's shapes were defined by the first: one line of its own
      expect(next.lines).toHaveLength(1);
    });

    it('refuses lines that are not those of the event, and writes nothing of that batch', async () => {
      await store.createRun({ ...run, seed: 1 });
      const [a, b] = [event(run.runId, 0), event(run.runId, 1)];
      for (const lines of [
        [...b.lines.slice(0, -1), a.lines.at(-1)!],
        ['{"id":1}', ...b.lines],
      ]) {
        await expect(
          store.appendEvents(run.runId, [a, { ...b, lines }], []),
        ).rejects.toBeInstanceOf(InvalidStoreInputError);
      }
      expect(await store.readEvents(run.runId, { limit: 10 })).toEqual([]);
    });

    it('gives the definitions an interner resumes from, and the seq to go on at', async () => {
      await store.createRun({ ...run, seed: 1 });
      expect(await store.nextSeq(run.runId)).toBe(0);
      const events = Array.from({ length: 6 }, (_, seq) =>
        event(run.runId, seq, {
          type: seq % 2 ? 'return' : 'call',
          payload: { seq, [`k${seq % 3}`]: 1 },
        }),
      );
      await store.appendEvents(run.runId, events.slice(0, 4), []);
      expect(await store.nextSeq(run.runId)).toBe(4);
      const defs = await store.readLogDefs(run.runId, 3);
      expect(defs.map((d) => d.id)).toEqual(Array.from({ length: defs.length }, (_, i) => i + 1));
      // what the first four events defined, no more and no less
      const defined = events.slice(0, 4).flatMap((e) => e.lines.slice(0, -1));
      expect(defs.map(defLine)).toEqual(defined);
      const resumed = LogInterner.resume(defs);
      for (const e of events.slice(4)) {
        const lines: string[] = [];
        resumed.push(
          { ...e.event, payload: { seq: e.event.seq, [`k${e.event.seq % 3}`]: 1 } },
          lines,
        );
        expect(lines).toEqual(e.lines);
      }
    });

    it('append is idempotent by (run_id, seq)', async () => {
      const written = await writeRun(store, run, {
        events: 10,
        violations: [{ seq: 3 }, { seq: 7 }],
      });
      await store.appendEvents(run.runId, written.events, written.violations);
      await store.appendEvents(run.runId, written.events.slice(2, 5), written.violations);
      // an overlapping batch: old rows ignored, new ones added, all in one transaction
      await store.appendEvents(run.runId, [...written.events.slice(8), event(run.runId, 10)], []);
      const events = await store.readEvents(run.runId, { limit: 100 });
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 11 }, (_, i) => i));
      const violations = await store.queryViolations({ run: run.runId, limit: 100 });
      expect(violations.rows.map((v) => v.seq).sort()).toEqual([3, 7]);
    });

    it('rejects an event type outside the CHECK and writes nothing of that batch', async () => {
      await store.createRun({ ...run, seed: 1 });
      const good = event(run.runId, 0);
      const bad = event(run.runId, 1, { type: 'bogus' as EventType });
      await expect(store.appendEvents(run.runId, [good, bad], [])).rejects.toThrow();
      expect(await store.readEvents(run.runId, { limit: 10 })).toEqual([]);
    });

    it('rejects an event of another run', async () => {
      await expect(store.appendEvents('other', [event(run.runId, 0)], [])).rejects.toBeInstanceOf(
        InvalidStoreInputError,
      );
    });

    it('appends arriving together are committed as a group; a faulty one fails alone', async () => {
      const ids = ['g0', 'g1', 'g2', 'g3'];
      for (const runId of ids) await store.createRun({ ...run, runId, seed: 1 });
      const good = ids.flatMap((runId) =>
        [0, 1, 2].map((k) =>
          store.appendEvents(runId, [event(runId, 2 * k), event(runId, 2 * k + 1)], []),
        ),
      );
      const bad = event('g2', 7, { type: 'bogus' as EventType });
      const faulty = store.appendEvents('g2', [event('g2', 6), bad], []);
      const settled = await Promise.allSettled([...good, faulty]);
      expect(settled.slice(0, -1).map((r) => r.status)).toEqual(good.map(() => 'fulfilled'));
      expect(settled.at(-1)?.status).toBe('rejected');
      for (const runId of ids) {
        const seqs = (await store.readEvents(runId, { limit: 100 })).map((e) => e.seq);
        expect(seqs, runId).toEqual([0, 1, 2, 3, 4, 5]);
      }
    });

    it('close() commits the appends it has accepted', async () => {
      await store.createRun({ ...run, seed: 1 });
      const pending = Array.from({ length: 10 }, (_, seq) =>
        store.appendEvents(run.runId, [event(run.runId, seq)], []),
      );
      await store.close();
      await Promise.all(pending);
      const again = await openStore(db.options);
      try {
        const seqs = (await again.readEvents(run.runId, { limit: 100 })).map((e) => e.seq);
        expect(seqs).toEqual(Array.from({ length: 10 }, (_, i) => i));
      } finally {
        await again.close();
      }
    });

    it('reads after a seq and iterates across page boundaries in seq order', async () => {
      await store.createRun({ ...run, seed: 1 });
      // appended out of order, in two batches
      const events = Array.from({ length: 23 }, (_, seq) => event(run.runId, seq));
      await store.appendEvents(run.runId, events.slice(12).reverse(), []);
      await store.appendEvents(run.runId, events.slice(0, 12), []);

      const after = await store.readEvents(run.runId, { afterSeq: 19, limit: 10 });
      expect(after.map((e) => e.seq)).toEqual([20, 21, 22]);

      for (const pageSize of [1, 5, 23, 100]) {
        const seqs: number[] = [];
        for await (const e of store.iterateEvents(run.runId, pageSize)) seqs.push(e.seq);
        expect(seqs).toEqual(Array.from({ length: 23 }, (_, i) => i));
      }
      const none: number[] = [];
      for await (const e of store.iterateEvents('no-such-run', 5)) none.push(e.seq);
      expect(none).toEqual([]);
    });
  });

  describe('violations', () => {
    const runs: (RunSpec & { comms: string[]; seconds: number })[] = [
      {
        runId: 'v-a',
        scenario: 'oom-reap-arm64',
        kernel: '5.8',
        arch: 'arm64',
        comms: ['oom_reaper', 'oom_reaper', 'qemu'],
        seconds: 0,
      },
      {
        runId: 'v-b',
        scenario: 'oom-reap-arm64',
        kernel: '5.8+flags',
        arch: 'arm64',
        comms: ['oom_reaper', 'stress-ng'],
        seconds: 100,
      },
      {
        runId: 'v-c',
        scenario: 'munmap-x86',
        kernel: '5.8',
        arch: 'x86',
        comms: ['qemu'],
        seconds: 200,
      },
    ];

    /** violations at seq 1, 2, …; signature by comm; run v-a's events all share one second */
    async function seed(): Promise<void> {
      for (const r of runs) {
        await writeRun(store, r, {
          events: r.comms.length + 1,
          violations: r.comms.map((comm, i) => ({
            seq: i + 1,
            comm,
            signature: comm === 'qemu' ? 'kvm_mmu_notifier_invalidate_range_start' : undefined,
          })),
          secondOf: (seq) => r.seconds + (r.runId === 'v-a' ? 0 : seq),
        });
      }
    }

    it('returns violations as the design prints them, newest first', async () => {
      await seed();
      const { rows, nextCursor } = await store.queryViolations({ limit: 100 });
      expect(nextCursor).toBeNull();
      expect(rows.map((v) => `${v.runId}/${v.seq}`)).toEqual([
        'v-c/1',
        'v-b/2',
        'v-b/1',
        'v-a/3',
        'v-a/2',
        'v-a/1',
      ]);
      expect(rows[1]).toEqual({
        ...violation(2, { comm: 'stress-ng' }),
        runId: 'v-b',
        origin: 'simulated',
        eventId: 'run.1',
        scenario: 'oom-reap-arm64',
        kernel: '5.8+flags',
        arch: 'arm64',
        recordedAt: at(102),
      });
    });

    it('keeps observed findings beside the simulated ones, and a rebuild leaves them', async () => {
      await seed();
      const observed = {
        runId: 'observed-1',
        scenario: 'kern.log',
        kernel: '5.8.0',
        arch: 'arm64',
        findings: [1, 2].map((seq) => ({ eventId: `observed-1:line-${seq}`, v: violation(seq) })),
      };
      expect(await store.recordObservedRun(observed)).toBe(true);
      // the same log again: nothing added
      expect(await store.recordObservedRun(observed)).toBe(false);
      expect(await store.getRun('observed-1')).toMatchObject({
        origin: 'observed',
        status: 'completed',
        events: 0,
        logHash: null,
        violations: 2,
      });
      const reaper = violation(1).signature;
      const group = async (filter: Parameters<Store['groupBySignature']>[0]) =>
        (await store.groupBySignature(filter)).find((g) => g.signature === reaper);
      // from the rollup (labels only) and from the violations (a filter by comm): the same share
      expect(await group({})).toMatchObject({ count: 6, observed: 2, runs: 3 });
      expect(await group({ comm: 'oom_reaper' })).toMatchObject({ count: 5, observed: 2 });
      expect(await group({ origin: 'simulated' })).toMatchObject({ count: 4, observed: 0 });
      expect(await group({ origin: 'observed' })).toMatchObject({ count: 2, observed: 2, runs: 1 });
      expect(await group({ kernel: '5.8' })).toMatchObject({ count: 2, observed: 0 });

      const ids = async (filter: Omit<Parameters<Store['listRuns']>[0], 'limit'>) =>
        (await store.listRuns({ ...filter, limit: 10 })).rows.map((r) => r.runId);
      expect(await ids({ origin: 'observed' })).toEqual(['observed-1']);
      expect(await ids({ signature: reaper, origin: 'simulated' })).toEqual(['v-b', 'v-a']);
      expect(await ids({ signature: 'no such signature' })).toEqual([]);

      await store.deleteViolations();
      expect((await store.queryViolations({ limit: 100 })).rows.map((v) => v.runId)).toEqual([
        'observed-1',
        'observed-1',
      ]);
      expect(await group({})).toMatchObject({ count: 2, observed: 2, runs: 1 });
      await store.deleteViolations('observed-1');
      expect(await group({})).toMatchObject({ count: 2, observed: 2 });
    });

    it('the kernel × arch matrix of each signature, from the rollup or the violations', async () => {
      await seed();
      const reaper = violation(1).signature;
      const qemu = violation(1, { signature: 'kvm_mmu_notifier_invalidate_range_start' }).signature;
      expect(await store.signatureMatrix({})).toEqual([
        // bytewise: "… in kvm_mmu_notifier…" before "… in unmap_stage2_range"
        { signature: qemu, kernel: '5.8', arch: 'arm64', count: 1, runs: 1 },
        { signature: qemu, kernel: '5.8', arch: 'x86', count: 1, runs: 1 },
        { signature: reaper, kernel: '5.8', arch: 'arm64', count: 2, runs: 1 },
        { signature: reaper, kernel: '5.8+flags', arch: 'arm64', count: 2, runs: 1 },
      ]);
      // a filter on something else than labels reads the violations: the same cells, narrowed
      expect(await store.signatureMatrix({ comm: 'qemu' })).toEqual([
        { signature: qemu, kernel: '5.8', arch: 'arm64', count: 1, runs: 1 },
        { signature: qemu, kernel: '5.8', arch: 'x86', count: 1, runs: 1 },
      ]);
      expect(await store.signatureMatrix({ arch: 'x86' })).toEqual([
        { signature: qemu, kernel: '5.8', arch: 'x86', count: 1, runs: 1 },
      ]);
    });

    it('fuzz campaigns: their runs grouped by seed, and their findings by scenario prefix', async () => {
      const campaign = (seed: number, index: number, kernel: string, comms: string[]) =>
        writeRun(
          store,
          { runId: `c${seed}-${index}`, scenario: `fuzz-${seed}-${index}`, kernel, arch: 'arm64' },
          {
            events: comms.length + 1,
            violations: comms.map((comm, i) => ({ seq: i + 1, comm })),
          },
        );
      await campaign(7, 0, '5.8', ['oom_reaper', 'oom_reaper']);
      await campaign(7, 1, '5.8+fix', []);
      await campaign(71, 0, '5.8', ['oom_reaper']);
      // a scenario that only looks like one (no seed), and a plain one
      await writeRun(
        store,
        { runId: 'odd', scenario: 'fuzz-x-1', kernel: '5.8', arch: 'x86' },
        { events: 1 },
      );
      await writeRun(
        store,
        { runId: 'plain', scenario: 'fuzzy', kernel: '5.8', arch: 'x86' },
        { events: 1 },
      );
      for (const [runId, violations] of [
        ['c7-0', 2],
        ['c7-1', 0],
        ['c71-0', 1],
      ] as const) {
        await store.finishRun(runId, {
          status: 'completed',
          events: 3,
          logHash: 'sha256:x',
          violations,
        });
      }
      const campaigns = await store.listCampaigns('fuzz-');
      expect(
        campaigns.map((c) => [c.seed, c.runs, c.completed, c.failed, c.running, c.violations]),
      ).toEqual(
        expect.arrayContaining([
          [7, 2, 2, 0, 0, 2],
          [71, 1, 1, 0, 0, 1],
        ]),
      );
      expect(campaigns).toHaveLength(2);
      // fuzz-7- is not fuzz-71-
      const ids = async (prefix: string) =>
        (await store.listRuns({ scenarioPrefix: prefix, limit: 10 })).rows
          .map((r) => r.runId)
          .sort();
      expect(await ids('fuzz-7-')).toEqual(['c7-0', 'c7-1']);
      expect(await ids('fuzz-71-')).toEqual(['c71-0']);
      // the same narrowing from the rollup (labels only) and from the violations (a comm too)
      expect(await store.signatureMatrix({ scenarioPrefix: 'fuzz-7-' })).toEqual([
        { signature: violation(1).signature, kernel: '5.8', arch: 'arm64', count: 2, runs: 1 },
      ]);
      expect(
        (await store.groupBySignature({ scenarioPrefix: 'fuzz-7-', comm: 'oom_reaper' }))[0],
      ).toMatchObject({ count: 2, runs: 1 });
      expect((await store.queryViolations({ scenarioPrefix: 'fuzz_', limit: 10 })).rows).toEqual(
        [],
      );
    });

    it('each filter narrows the result', async () => {
      await seed();
      const keys = async (filter: Parameters<Store['groupBySignature']>[0]) =>
        (await store.queryViolations({ ...filter, limit: 100 })).rows
          .map((v) => `${v.runId}/${v.seq}`)
          .sort();
      expect(await keys({})).toHaveLength(6);
      expect(await keys({ arch: 'x86' })).toEqual(['v-c/1']);
      expect(await keys({ kernel: '5.8' })).toEqual(['v-a/1', 'v-a/2', 'v-a/3', 'v-c/1']);
      expect(await keys({ arch: 'arm64', kernel: '5.8' })).toEqual(['v-a/1', 'v-a/2', 'v-a/3']);
      expect(await keys({ scenario: 'munmap-x86' })).toEqual(['v-c/1']);
      expect(await keys({ run: 'v-b' })).toEqual(['v-b/1', 'v-b/2']);
      expect(await keys({ comm: 'qemu' })).toEqual(['v-a/3', 'v-c/1']);
      expect(await keys({ since: new Date(at(102)) })).toEqual(['v-b/2', 'v-c/1']);
      expect(await keys({ comm: 'qemu', since: new Date(at(102)) })).toEqual(['v-c/1']);
      expect(await keys({ comm: 'nobody' })).toEqual([]);
    });

    it('cursor paging returns every row exactly once, in order, across equal timestamps', async () => {
      await seed();
      const full = (await store.queryViolations({ limit: 100 })).rows;
      for (const limit of [1, 2, 4, 5, 6]) {
        const paged = await allViolations(store, { limit });
        expect(paged).toEqual(full);
      }
      const filtered = await allViolations(store, { limit: 1, arch: 'arm64' });
      expect(filtered.map((v) => `${v.runId}/${v.seq}`)).toEqual([
        'v-b/2',
        'v-b/1',
        'v-a/3',
        'v-a/2',
        'v-a/1',
      ]);
    });

    it('caps a page at MAX_PAGE_SIZE', async () => {
      await store.createRun({ runId: 'many', scenario: 's', kernel: '5.8', arch: 'x86', seed: 1 });
      const sink = store.createEventSink('many', { scenario: 's', kernel: '5.8', arch: 'x86' });
      for (let seq = 0; seq < MAX_PAGE_SIZE + 5; seq++) {
        const e = event('many', seq, { type: 'violation' });
        sink.append(e.event, e.lines);
        sink.appendViolation(e.event.id, violation(seq));
      }
      await sink.flush();
      const first = await store.queryViolations({ limit: 5000 });
      expect(first.rows).toHaveLength(MAX_PAGE_SIZE);
      const second = await store.queryViolations({ limit: 5000, cursor: first.nextCursor });
      expect(second.rows).toHaveLength(5);
      expect(second.nextCursor).toBeNull();
    });

    it('groups by signature in SQL', async () => {
      await seed();
      const reaper = 'BUG: sleeping function called from invalid context in unmap_stage2_range';
      const qemu =
        'BUG: sleeping function called from invalid context in kvm_mmu_notifier_invalidate_range_start';
      expect(await store.groupBySignature({})).toEqual([
        {
          signature: reaper,
          kind: 'atomic-sleep',
          count: 4,
          runs: 2,
          observed: 0,
          kernels: ['5.8', '5.8+flags'],
          arches: ['arm64'],
          firstSeen: at(0),
          lastSeen: at(102),
        },
        {
          signature: qemu,
          kind: 'atomic-sleep',
          count: 2,
          runs: 2,
          observed: 0,
          kernels: ['5.8'],
          arches: ['arm64', 'x86'],
          firstSeen: at(0),
          lastSeen: at(201),
        },
      ]);
      expect(await store.groupBySignature({ arch: 'x86' })).toEqual([
        {
          signature: qemu,
          kind: 'atomic-sleep',
          count: 1,
          runs: 1,
          observed: 0,
          kernels: ['5.8'],
          arches: ['x86'],
          firstSeen: at(201),
          lastSeen: at(201),
        },
      ]);
      expect(await store.groupBySignature({ run: 'v-b', comm: 'oom_reaper' })).toEqual([
        {
          signature: reaper,
          kind: 'atomic-sleep',
          count: 1,
          runs: 1,
          observed: 0,
          kernels: ['5.8+flags'],
          arches: ['arm64'],
          firstSeen: at(101),
          lastSeen: at(101),
        },
      ]);
      expect(await store.groupBySignature({ since: new Date(at(300)) })).toEqual([]);
      // by kind: from the violations themselves, as the rollup has no kind
      expect((await store.groupBySignature({ kind: 'atomic-sleep' })).map((g) => g.count)).toEqual([
        4, 2,
      ]);
      expect(await store.groupBySignature({ kind: 'notifier-imbalance' })).toEqual([]);
    });

    it('deletes the violations of one run, or all', async () => {
      await seed();
      await store.deleteViolations('v-a');
      expect((await allViolations(store, { limit: 100 })).map((v) => v.runId)).toEqual([
        'v-c',
        'v-b',
        'v-b',
      ]);
      await store.deleteViolations();
      expect(await allViolations(store, { limit: 100 })).toEqual([]);
      // the log itself is untouched
      expect(await store.readEvents('v-a', { limit: 100 })).toHaveLength(4);
    });
  });

  describe('event sink', () => {
    const run = { runId: 'r-sink', scenario: 'oom-reap-arm64', kernel: '5.8', arch: 'arm64' };
    const meta = { scenario: run.scenario, kernel: run.kernel, arch: run.arch };

    it('writes everything in batches and is idempotent', async () => {
      await store.createRun({ ...run, seed: 1 });
      const events = Array.from({ length: 23 }, (_, seq) =>
        event(run.runId, seq, { type: seq % 5 === 4 ? 'violation' : undefined }),
      );
      for (let pass = 0; pass < 2; pass++) {
        const sink = store.createEventSink(run.runId, meta, { batchSize: 5 });
        for (const e of events) {
          sink.append(e.event, e.lines);
          if (e.event.type === 'violation')
            sink.appendViolation(e.event.id, violation(e.event.seq));
        }
        await sink.flush();
      }
      const stored = await store.readEvents(run.runId, { limit: 100 });
      expect(stored).toEqual(events.map((e) => ({ ...e.event, payload: e.payload })));
      const violations = await allViolations(store, { run: run.runId, limit: 100 });
      expect(violations.map((v) => v.seq)).toEqual([19, 14, 9, 4]);
      // the violation's wall clock is its event's
      expect(violations.map((v) => v.recordedAt)).toEqual([at(19), at(14), at(9), at(4)]);
      expect(violations[0].eventId).toBe('run.18');
    });

    it('interleaves with other store operations without mixing transactions', async () => {
      await store.createRun({ ...run, seed: 1 });
      await store.createRun({ ...run, runId: 'other', seed: 1 });
      const sink = store.createEventSink(run.runId, meta, { batchSize: 3 });
      const others = Array.from({ length: 40 }, (_, seq) => event('other', seq));
      const pending = [
        store.appendEvents('other', others.slice(0, 20), []),
        store.appendEvents('other', others.slice(20), []),
        store.listRuns({ limit: 10 }),
      ];
      for (let seq = 0; seq < 10; seq++) {
        const e = event(run.runId, seq);
        sink.append(e.event, e.lines);
      }
      await Promise.all([...pending, sink.flush()]);
      expect(await store.readEvents('other', { limit: 100 })).toHaveLength(40);
      expect(await store.readEvents(run.runId, { limit: 100 })).toHaveLength(10);
    });

    it('on SQLite writes a full batch inside append; elsewhere by flush', async () => {
      await store.createRun({ ...run, seed: 1 });
      const sink = store.createEventSink(run.runId, meta, { batchSize: 2 });
      for (let seq = 0; seq < 3; seq++) {
        const e = event(run.runId, seq);
        sink.append(e.event, e.lines);
      }
      const before = await store.readEvents(run.runId, { limit: 10 });
      if (dialect === 'sqlite') expect(before.map((e) => e.seq)).toEqual([0, 1]);
      await sink.flush();
      expect(await store.readEvents(run.runId, { limit: 10 })).toHaveLength(3);

      const failing = store.createEventSink(run.runId, meta, { batchSize: 1 });
      const bad = event(run.runId, 5, { type: 'bogus' as EventType });
      if (dialect === 'sqlite') {
        expect(() => failing.append(bad.event, bad.lines)).toThrow();
      } else {
        failing.append(bad.event, bad.lines);
        await expect(failing.flush()).rejects.toThrow();
      }
      // a failed sink stays failed
      const next = event(run.runId, 6);
      expect(() => failing.append(next.event, next.lines)).toThrow();
    });

    it('surfaces a failed batch and close() flushes what is buffered', async () => {
      await store.createRun({ ...run, seed: 1 });
      const sink = store.createEventSink(run.runId, meta, { batchSize: 100 });
      const bad = event(run.runId, 0, { type: 'bogus' as EventType });
      sink.append(bad.event, bad.lines);
      await expect(sink.flush()).rejects.toThrow();

      const good = store.createEventSink(run.runId, meta, { batchSize: 100 });
      const e = event(run.runId, 1);
      good.append(e.event, e.lines);
      const reopened = db.options;
      await store.close();
      store = await openStore(reopened);
      // (its payload cannot be read: the failed batch held the definitions it uses)
      const seqs: number[] = [];
      for await (const x of store.iterateLog(run.runId)) seqs.push(x.seq);
      expect(seqs).toEqual([1]);
    });
  });
});
