/**
 * Export, import, replay and rebuild end to end, through the command functions the `mnsim` program
 * wires, on SQLite and on Postgres (each test its own schema, dropped afterwards).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { type CliOutcome, captureOutput } from '../cli-output.js';
import { type Violation, logHashOf } from '@mnsim/events';
import type { KernelVariant } from '@mnsim/kernel';
import { LOG_FORMAT, LOG_FORMAT_VERSION } from '@mnsim/engine';
import { listBuiltinScenarios } from '@mnsim/scenarios';
import { type StoreOptions, type ViolationRow, openStore } from '@mnsim/store';
import type { CliConfig } from '../../apps/cli/src/config.js';
import { reportError } from '../../apps/cli/src/errors.js';
import * as exportModule from '../../apps/cli/src/commands/export.js';
import { importCommand } from '../../apps/cli/src/commands/import.js';
import { replayCommand } from '../../apps/cli/src/commands/replay.js';
import { runCommand } from '../../apps/cli/src/commands/run.js';

const PG_URL = process.env.MNSIM_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Runs a command function as `mnsim` would: stdout and stderr captured, errors reported. */
const cli = (command: () => Promise<number>): Promise<CliOutcome> =>
  captureOutput(() => command().catch(reportError));

/** What `mnsim run --json` prints, as far as these tests read it. */
interface RunJson {
  runId: string;
  kernel: KernelVariant;
  events: number;
  logHash: string;
  violations: Violation[];
}

const json = (o: CliOutcome) => JSON.parse(o.out);

/** Every violation row of a store, in its own order. */
async function allViolations(options: StoreOptions): Promise<ViolationRow[]> {
  const store = await openStore(options);
  try {
    const rows: ViolationRow[] = [];
    let cursor: string | null = null;
    do {
      const page = await store.queryViolations({ limit: 1000, cursor });
      rows.push(...page.rows);
      cursor = page.nextCursor;
    } while (cursor !== null);
    return rows;
  } finally {
    await store.close();
  }
}

/** A copy of a log file with its event lines edited and the header made consistent again. */
function rewritten(path: string, edit: (events: string[]) => string[], rehash = true): string {
  const [head, ...events] = readFileSync(path, 'utf8').trimEnd().split('\n');
  const header = JSON.parse(head);
  const out = edit(events);
  if (rehash) {
    header.events = out.length;
    header.logHash = logHashOf(out);
  }
  const copy = `${path}.${randomBytes(3).toString('hex')}.jsonl`;
  writeFileSync(copy, [JSON.stringify(header), ...out].join('\n') + '\n');
  return copy;
}

/** The event at `seq` with the first number of its payload changed: still canonical JSON. */
function changePayload(events: string[], seq: number): string[] {
  return events.map((line, i) => {
    if (i !== seq) return line;
    const at = line.indexOf('"payload":');
    const payload = line
      .slice(at)
      .replace(/:(\d+)([,}\]])/, (_m, d: string, end: string) => `:${Number(d) + 7}${end}`);
    return line.slice(0, at) + payload;
  });
}

describe.each(['sqlite', 'postgres'] as const)('replay on %s', (dialect) => {
  let dir: string;
  const schemas: string[] = [];

  /** A fresh, empty store of this dialect. */
  function freshStore(): CliConfig {
    if (dialect === 'sqlite') {
      return {
        store: { sqlitePath: join(dir, `store-${randomBytes(4).toString('hex')}.sqlite`) },
        redisUrl: null,
      };
    }
    const schema = `mnsim_replay_${randomBytes(6).toString('hex')}`;
    schemas.push(schema);
    return { store: { url: PG_URL, schema }, redisUrl: null };
  }

  async function record(config: CliConfig, scenario: string, ...args: string[]): Promise<RunJson> {
    const kernel = args[0] as KernelVariant | undefined;
    const r = await cli(() => runCommand(scenario, { json: true, kernel }, config));
    expect(r.code).toBe(0);
    return json(r) as RunJson;
  }

  async function exportTo(config: CliConfig, runId: string, expand = false): Promise<string> {
    const file = join(dir, `${runId}${expand ? '.expanded' : ''}.jsonl`);
    const r = await cli(() => exportModule.exportCommand(runId, { output: file, expand }, config));
    expect(r.code).toBe(0);
    return file;
  }

  /**
   * A run recorded in one store and exported (with `expand`, in version 1: one whole event a
   * line, which the cases that edit events edit), and a second, empty store to import it into.
   */
  async function exportedRun(
    scenario: string,
    expand = false,
  ): Promise<{ target: CliConfig; run: RunJson; file: string }> {
    const source = freshStore();
    const run = await record(source, scenario);
    return { target: freshStore(), run, file: await exportTo(source, run.runId, expand) };
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mnsim-replay-e2e-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  afterAll(async () => {
    if (schemas.length === 0) return;
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    for (const s of schemas) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    await client.end();
  });

  it('the log format is the one `mnsim export` writes', () => {
    expect(LOG_FORMAT).toBe(exportModule.LOG_FORMAT);
    expect(LOG_FORMAT_VERSION).toBe(exportModule.LOG_FORMAT_VERSION);
  });

  it('export → import into a fresh store → replay matches, for every built-in scenario', async () => {
    const source = freshStore();
    const target = freshStore();
    const builtins = listBuiltinScenarios();
    expect(builtins.length).toBeGreaterThanOrEqual(20);
    for (const { name } of builtins) {
      const run = await record(source, name);
      const file = await exportTo(source, run.runId);

      const imported = await cli(() => importCommand(file, { json: true }, target));
      expect(imported.code, `${name}: ${imported.err}`).toBe(0);
      expect(json(imported)).toMatchObject({
        runId: run.runId,
        events: run.events,
        logHash: run.logHash,
        violations: run.violations.length,
        imported: true,
      });

      for (const ref of [run.runId.slice(0, 13), file]) {
        const replayed = await cli(() => replayCommand(ref, { json: true }, target));
        expect(replayed.code, `${name} from ${ref}: ${replayed.out}${replayed.err}`).toBe(0);
        const report = json(replayed);
        expect(Object.keys(report)).toEqual([
          'runId',
          'kernel',
          'matches',
          'logHash',
          'expectedLogHash',
          'firstDivergence',
          'violations',
          'violationsDiff',
        ]);
        expect(report).toEqual({
          runId: run.runId,
          kernel: run.kernel,
          matches: true,
          logHash: run.logHash,
          expectedLogHash: run.logHash,
          firstDivergence: null,
          violations: run.violations,
          violationsDiff: { added: [], removed: [] },
        });
      }
    }
    // the imported violations are the recorded ones, as the history shows them
    const strip = (rows: ViolationRow[]): unknown[] =>
      rows
        .map(({ recordedAt: _at, ...v }) => v)
        .sort((a, b) => (a.runId + a.seq).localeCompare(b.runId + b.seq));
    expect(strip(await allViolations(target.store))).toEqual(
      strip(await allViolations(source.store)),
    );
  });

  it('importing the same log twice changes nothing', async () => {
    const { target, run, file } = await exportedRun('oom-reap-arm64');
    const first = await cli(() => importCommand(file, {}, target));
    expect(first.code).toBe(0);
    expect(first.out).toBe(`${run.runId}\n`);
    expect(first.err).toMatch(/^mnsim: imported run /);

    const snapshot = async (): Promise<unknown> => {
      const store = await openStore(target.store);
      try {
        const events = [];
        for await (const e of store.iterateEvents(run.runId)) events.push(e);
        return { run: await store.getRun(run.runId), events };
      } finally {
        await store.close();
      }
    };
    const before = await snapshot();
    const violationsBefore = await allViolations(target.store);
    const again = await cli(() => importCommand(file, { json: true }, target));
    expect(again.code).toBe(0);
    expect(json(again)).toMatchObject({ runId: run.runId, imported: false });
    expect(await snapshot()).toEqual(before);
    expect(await allViolations(target.store)).toEqual(violationsBefore);

    // the store's copy exports to the very same file
    const reexported = await exportTo(target, run.runId);
    expect(readFileSync(reexported, 'utf8')).toBe(readFileSync(file, 'utf8'));
  });

  it('a log with one payload changed is refused, naming its line, and nothing is written', async () => {
    const { target, run, file } = await exportedRun('oom-reap-arm64', true);
    const seq = run.violations[0].seq - 3;
    const tampered = rewritten(file, (ev) => changePayload(ev, seq), false);
    expect(readFileSync(tampered, 'utf8')).not.toBe(readFileSync(file, 'utf8'));

    const r = await cli(() => importCommand(tampered, {}, target));
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    // a version 1 log is held to its own logHash
    const expandedHash = JSON.parse(readFileSync(file, 'utf8').split('\n')[0]).logHash as string;
    expect(r.err).toMatch(
      new RegExp(
        `^mnsim: ${tampered.replace(/[.+]/g, '\\$&')}:${seq + 2}: logHash mismatch: header says ${expandedHash}, lines give sha256:[0-9a-f]{64}; this is the first line that differs from a re-execution of the run \\(seq ${seq}\\)\n$`,
      ),
    );
    const store = await openStore(target.store);
    try {
      expect(await store.getRun(run.runId)).toBeNull();
    } finally {
      await store.close();
    }

    const gap = rewritten(file, (ev) => [...ev.slice(0, 15), ...ev.slice(16)]);
    expect((await cli(() => importCommand(gap, {}, target))).err).toBe(
      `mnsim: ${gap}:17: seq 16 follows 14 (gap)\n`,
    );
    const truncated = rewritten(file, (ev) => ev.slice(0, 30), false);
    const t = await cli(() => importCommand(truncated, {}, target));
    expect(t.code).toBe(2);
    expect(t.err).toBe(`mnsim: ${truncated}:32: expected ${run.events} events, found 30\n`);
  });

  it('a format 2 log whose definitions were changed, removed or moved is refused at their line', async () => {
    const { target, run, file } = await exportedRun('oom-reap-arm64');
    const [head, ...lines] = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(JSON.parse(head)).toMatchObject({ version: 2, logHash: run.logHash });
    const write = (edited: string[]): string => {
      const copy = `${file}.${randomBytes(3).toString('hex')}.jsonl`;
      writeFileSync(copy, [head, ...edited].join('\n') + '\n');
      return copy;
    };
    const refusal = async (path: string): Promise<string> => {
      const r = await cli(() => importCommand(path, {}, target));
      expect(r.code).toBe(2);
      return r.err.replace(path, 'log.jsonl');
    };
    // the second stack defined, one of its frames renamed: still a well-formed log
    const at = lines.filter((l) => l.includes('"kind":"stack"'))[1];
    const def = lines.indexOf(at);
    const frame = (JSON.parse(at) as { value: [number, ...string[]] }).value[1];
    const changed = lines.map((l, i) => (i === def ? l.replace(`"${frame}"`, '"renamed"') : l));
    expect(await refusal(write(changed))).toMatch(
      new RegExp(
        `^mnsim: log\\.jsonl:${def + 2}: logHash mismatch: .*; this is the first line that differs from a re-execution of the run \\(seq \\d+\\)\n$`,
      ),
    );
    // removed: the next definition's id is not the one due
    expect(await refusal(write(lines.filter((_, i) => i !== def)))).toMatch(
      new RegExp(`^mnsim: log\\.jsonl:${def + 2}: `),
    );
    // moved after its first use: that use is named
    const use = lines.findIndex((l, i) => i > def && l.startsWith('['));
    const moved = [
      ...lines.slice(0, def),
      ...lines.slice(def + 1, use + 1),
      at,
      ...lines.slice(use + 1),
    ];
    expect(await refusal(write(moved))).toMatch(
      new RegExp(`^mnsim: log\\.jsonl:(${def + 2}|${use + 1}): `),
    );
    const store = await openStore(target.store);
    try {
      expect(await store.getRun(run.runId)).toBeNull();
    } finally {
      await store.close();
    }
  });

  it('a recorded log the model no longer produces: import accepts it, replay names the first divergent seq', async () => {
    const { target, run, file } = await exportedRun('oom-reap-arm64', true);
    const seq = run.violations[0].seq - 3;
    // as if recorded by a model that behaved differently: the header's hash covers the change
    const other = rewritten(file, (ev) => changePayload(ev, seq));
    const imported = await cli(() => importCommand(other, { json: true }, target));
    expect(imported.code).toBe(0);

    for (const ref of [run.runId, other]) {
      const r = await cli(() => replayCommand(ref, { json: true }, target));
      expect(r.code).toBe(1);
      const report = json(r);
      expect(report.matches).toBe(false);
      expect(report.logHash).toBe(run.logHash);
      expect(report.expectedLogHash).toBe(json(imported).logHash);
      expect(report.firstDivergence.seq).toBe(seq);
      expect(report.firstDivergence.expected.seq).toBe(seq);
      expect(report.firstDivergence.actual.seq).toBe(seq);
      expect(report.firstDivergence.expected).not.toEqual(report.firstDivergence.actual);
      expect(report.violations).toEqual(run.violations);
    }
    const human = await cli(() => replayCommand(run.runId, {}, target));
    expect(human.code).toBe(1);
    expect(human.out).toContain(`DIVERGED at seq ${seq}`);
    expect(human.out).toMatch(/\n {2}expected: .*\n {2}actual: {3}.*\n/);
  });

  it('counterfactual: oom-reap-arm64 recorded on 5.8 loses every violation on 5.8+fix and none on 5.8+flags', async () => {
    const config = freshStore();
    const run = await record(config, 'oom-reap-arm64');
    expect(run.violations).toHaveLength(2);

    const fixed = await cli(() =>
      replayCommand(run.runId, { json: true, kernel: '5.8+fix' }, config),
    );
    expect(fixed.code).toBe(0);
    const f = json(fixed);
    expect(f).toMatchObject({ runId: run.runId, kernel: '5.8+fix', expectedLogHash: run.logHash });
    expect(f.violations).toEqual([]);
    expect(f.violationsDiff).toEqual({ added: [], removed: run.violations });

    const flags = await cli(() =>
      replayCommand(run.runId, { json: true, kernel: '5.8+flags' }, config),
    );
    expect(flags.code).toBe(0);
    expect(json(flags).violationsDiff).toEqual({ added: [], removed: [] });
    expect(json(flags).violations.map((v: Violation) => v.site)).toEqual(
      run.violations.map((v: Violation) => v.site),
    );

    // the same kernel as recorded is a verify
    const same = await cli(() => replayCommand(run.runId, { json: true, kernel: '5.8' }, config));
    expect(json(same)).toMatchObject({ matches: true, firstDivergence: null });

    // and the other way round: recorded on the fix, the BUG comes back on 5.8
    const fixedRun = await record(config, 'oom-reap-arm64', '5.8+fix');
    const back = json(
      await cli(() => replayCommand(fixedRun.runId, { json: true, kernel: '5.8' }, config)),
    );
    expect(back.violationsDiff.removed).toEqual([]);
    expect(back.violationsDiff.added).toEqual(run.violations);

    const human = await cli(() => replayCommand(run.runId, { kernel: '5.8+fix' }, config));
    expect(human.code).toBe(0);
    expect(human.out).toMatch(
      /^counterfactual replay of run \S+: oom-reap-arm64 recorded on 5\.8\/arm64, seed 1, on 5\.8\+fix\/arm64: 2 violations removed, 0 added/,
    );
    expect(human.out).toContain(
      'BUG: sleeping function called from invalid context at arch/arm64/kvm/mmu.c:394',
    );
  });

  it('rebuild gives exactly the live violations table, for every run or one', async () => {
    const config = freshStore();
    const runs = [
      await record(config, 'oom-reap-arm64'),
      await record(config, 'oom-reap-arm64', '5.8+flags'),
      await record(config, 'oom-reap-x86'),
      await record(config, 'rate-limit-arm64'),
      await record(config, 'userptr-eagain-arm64'),
    ];
    const live = await allViolations(config.store);
    const count = runs.reduce((n, r) => n + r.violations.length, 0);
    expect(live).toHaveLength(count);

    const all = await cli(() => replayCommand(undefined, { rebuild: true, json: true }, config));
    expect(all.code).toBe(0);
    expect(json(all)).toEqual({
      runs: runs.length,
      before: count,
      after: count,
      matches: true,
      differing: [],
    });
    expect(await allViolations(config.store)).toEqual(live);

    const one = await cli(() =>
      replayCommand(runs[0].runId.slice(0, 8), { rebuild: true }, config),
    );
    expect(one.code).toBe(0);
    expect(one.out).toBe(
      `rebuilt the violations of 1 run from their event logs: 2 rows (2 before); the table is exactly as it was\n`,
    );
    expect(await allViolations(config.store)).toEqual(live);

    // a projection that lost rows is found out, and restored from the log
    const store = await openStore(config.store);
    await store.deleteViolations(runs[3].runId);
    await store.close();
    const damaged = await cli(() =>
      replayCommand(undefined, { rebuild: true, json: true }, config),
    );
    expect(damaged.code).toBe(1);
    expect(json(damaged)).toMatchObject({
      before: count - runs[3].violations.length,
      after: count,
      matches: false,
      differing: [{ runId: runs[3].runId, before: 0, after: runs[3].violations.length }],
    });
    expect(await allViolations(config.store)).toEqual(live);
  });

  it('bad requests get exit 2 and a reason', async () => {
    const config = freshStore();
    const r = await cli(() => replayCommand(undefined, {}, config));
    expect(r).toMatchObject({
      code: 2,
      err: 'mnsim: replay needs a run id or a log file (or --rebuild)\n',
    });
    const missing = await cli(() => replayCommand(join(dir, 'nope.jsonl'), {}, config));
    expect(missing).toMatchObject({
      code: 2,
      err: `mnsim: ${join(dir, 'nope.jsonl')}: no such file\n`,
    });
    const unknown = await cli(() => replayCommand('0000dead', {}, config));
    expect(unknown).toMatchObject({ code: 2, err: "mnsim: no run matches '0000dead'\n" });
    const rebuildKernel = await cli(() =>
      replayCommand(undefined, { rebuild: true, kernel: '5.8' }, config),
    );
    expect(rebuildKernel.code).toBe(2);
  });
});
