import { createServer } from 'node:net';
import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import pg from 'pg';
import {
  type CanonicalEvent,
  LogInterner,
  canonicalEventLine,
  expandLines,
  logHashOf,
  violationWithSeq,
} from '@mnsim/events';
import { openStore } from '@mnsim/store';
import { dropPrefix } from '../../../test/distributed/harness.js';
import { hostileScenario } from '../../../bench/src/hostile-scenario.js';
import { GOLDEN_SPLAT } from '../../../test/oracles/helpers.js';
import { type CliOutcome, captureOutput } from '../../../test/cli-output.js';
import { main } from './cli.js';
import { parseRunTimeout } from '@mnsim/config';
import { loadConfig } from './config.js';

const mnsim = (...args: string[]): Promise<CliOutcome> => captureOutput(() => main(args));

const PG_URL = process.env.MNSIM_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

// the call chain of reference §10, innermost first
const SOURCE_STACK = [
  '___might_sleep',
  'unmap_stage2_range',
  'kvm_unmap_hva_handler',
  'handle_hva_to_gpa',
  'kvm_unmap_hva_range',
  'kvm_mmu_notifier_invalidate_range_start',
  'mn_hlist_invalidate_range_start',
  '__mmu_notifier_invalidate_range_start',
  'mmu_notifier_invalidate_range_start_nonblock',
  '__oom_reap_task_mm',
  'oom_reap_task_mm',
  'oom_reap_task',
  'oom_reaper',
  'kthread',
  'ret_from_fork',
];

describe.each(['sqlite', 'postgres'] as const)('mnsim on %s', (dialect) => {
  let dir: string;
  let schema = '';
  const schemas: string[] = [];
  const saved = { ...process.env };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mnsim-cli-'));
    delete process.env.MNSIM_REDIS_URL;
    if (dialect === 'sqlite') {
      delete process.env.MNSIM_DATABASE_URL;
      process.env.MNSIM_SQLITE_PATH = join(dir, 'store.sqlite');
    } else {
      // every test its own schema, so no test sees another's runs
      schema = `mnsim_cli_${randomBytes(6).toString('hex')}`;
      schemas.push(schema);
      process.env.MNSIM_DATABASE_URL = PG_URL;
      process.env.MNSIM_DATABASE_SCHEMA = schema;
    }
  });

  afterEach(() => {
    process.env = { ...saved };
    rmSync(dir, { recursive: true, force: true });
  });

  afterAll(async () => {
    if (dialect !== 'postgres') return;
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    for (const s of schemas) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    await client.end();
  });

  it('run --json reproduces the BUG on 5.8 with the contract fields', async () => {
    const r = await mnsim('run', 'oom-reap-arm64', '--json');
    expect(r.code).toBe(0);
    const run = JSON.parse(r.out);
    expect(run).toMatchObject({
      scenario: 'oom-reap-arm64',
      kernel: '5.8',
      arch: 'arm64',
      seed: 1,
      status: 'completed',
    });
    expect(run.logHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(run.violations.length).toBeGreaterThanOrEqual(1);
    const v = run.violations[0];
    expect(v).toMatchObject({
      site: 'arch/arm64/kvm/mmu.c:394',
      inAtomic: 1,
      irqsDisabled: 0,
      nonBlock: 1,
      comm: 'oom_reaper',
      pid: 36,
      reported: true,
      signature: 'BUG: sleeping function called from invalid context in unmap_stage2_range',
    });
    expect(v.stack).toEqual(SOURCE_STACK);
    expect(Object.keys(v).sort()).toEqual(
      [
        'seq',
        'kind',
        'jiffies',
        'site',
        'inAtomic',
        'irqsDisabled',
        'nonBlock',
        'pid',
        'comm',
        'reported',
        'signature',
        'stack',
        'text',
      ].sort(),
    );
  });

  it('run on 5.8+fix records nothing; --fail-on-violation exits 1 only when something was recorded', async () => {
    const fixed = await mnsim(
      'run',
      'oom-reap-arm64',
      '--kernel',
      '5.8+fix',
      '--json',
      '--fail-on-violation',
    );
    expect(fixed.code).toBe(0);
    expect(JSON.parse(fixed.out).violations).toEqual([]);
    const buggy = await mnsim('run', 'oom-reap-arm64', '--json', '--fail-on-violation');
    expect(buggy.code).toBe(1);
  });

  it('run prints the kernel log as dmesg would, then one summary line', async () => {
    const r = await mnsim('run', 'oom-reap-arm64');
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines).toContain(
      '[    0.040000] BUG: sleeping function called from invalid context at arch/arm64/kvm/mmu.c:394',
    );
    expect(lines).toContain(
      '[    0.040000] in_atomic(): 1, irqs_disabled(): 0, non_block: 1, pid: 36, name: oom_reaper',
    );
    expect(
      lines.some((l) => / Out of memory: Killed process 1200 \(qemu-system-aar\)/.test(l)),
    ).toBe(true);
    expect(lines.some((l) => / oom_reaper: reaped process 1200 \(qemu-system-aar\)/.test(l))).toBe(
      true,
    );
    expect(lines.at(-1)).toMatch(
      /^mnsim: run \S+ oom-reap-arm64 on 5\.8\/arm64 seed 1: completed, \d+ events, 2 violations \(1 printed, 1 rate-limited\), sha256:[0-9a-f]{64}$/,
    );
  });

  it('the same run twice gives the same logHash; --seed and --kernel change the run', async () => {
    const a = JSON.parse((await mnsim('run', 'oom-reap-arm64', '--json')).out);
    const b = JSON.parse((await mnsim('run', 'oom-reap-arm64', '--json')).out);
    expect(a.runId).not.toBe(b.runId);
    expect(a.logHash).toBe(b.logHash);
    const seeded = JSON.parse((await mnsim('run', 'oom-reap-arm64', '--json', '--seed', '7')).out);
    expect(seeded.seed).toBe(7);
    expect(seeded.logHash).not.toBe(a.logHash);
  });

  it('violations filters and groups what the runs recorded', async () => {
    const a = JSON.parse((await mnsim('run', 'oom-reap-arm64', '--json')).out);
    await mnsim('run', 'oom-reap-arm64', '--json', '--kernel', '5.8+flags');
    await mnsim('run', 'oom-reap-x86', '--json');
    const all = JSON.parse((await mnsim('violations', '--json')).out);
    expect(all).toHaveLength(4);
    expect(all[0]).toMatchObject({
      scenario: 'oom-reap-arm64',
      arch: 'arm64',
      site: 'arch/arm64/kvm/mmu.c:394',
    });
    expect(
      JSON.parse((await mnsim('violations', '--json', '--kernel', '5.8+flags')).out),
    ).toHaveLength(2);
    expect(JSON.parse((await mnsim('violations', '--json', '--arch', 'x86')).out)).toHaveLength(0);
    expect(
      JSON.parse(
        (await mnsim('violations', '--json', '--comm', 'oom_reaper', '--since', '1h')).out,
      ),
    ).toHaveLength(4);
    const byRun = JSON.parse(
      (await mnsim('violations', '--json', '--run', a.runId.slice(0, 8))).out,
    );
    expect(byRun.map((v: { runId: string }) => v.runId)).toEqual([a.runId, a.runId]);
    const groups = JSON.parse((await mnsim('violations', '--json', '--group-by', 'signature')).out);
    expect(groups).toEqual([
      expect.objectContaining({
        signature: 'BUG: sleeping function called from invalid context in unmap_stage2_range',
        count: 4,
        runs: 2,
        kernels: ['5.8', '5.8+flags'],
        arches: ['arm64'],
      }),
    ]);
    const table = await mnsim('violations', '--group-by', 'signature');
    expect(table.out).toMatch(/^COUNT\s+OBSERVED\s+RUNS\s+KERNELS/);
  });

  it("triage titles a real log's splats and names what reproduces them and what fixes them", async () => {
    const run = JSON.parse((await mnsim('run', 'oom-reap-arm64', '--json')).out);
    const log = join(dir, 'dmesg.txt');
    writeFileSync(
      log,
      [
        '[    0.000000] Booting Linux on physical CPU 0x0000000000 [0x410fd083]',
        ...GOLDEN_SPLAT.map((l, i) => `[  123.4568${String(i).padStart(2, '0')}] ${l}`),
        '[  200.000001] BUG: sleeping function called from invalid context at fs/x.c:1',
        '[  200.000002] in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 77, name: xfsaild',
        '[  200.000003] Call Trace:',
        '[  200.000004]  dump_stack+0x9a/0xd0',
        '[  200.000005]  ___might_sleep.cold+0x1f/0x30',
        '[  200.000006]  xfs_buf_lock+0x31/0x120',
        '[  200.000007]  xfsaild+0x2a5/0x950',
      ].join('\n') + '\n',
    );
    const r = await mnsim('triage', log, '--json');
    expect(r.code, r.err).toBe(0);
    const [seed, other, ...more] = JSON.parse(r.out).reports;
    expect(more).toEqual([]);
    expect(seed).toMatchObject({
      kind: 'atomic-sleep',
      signature: 'BUG: sleeping function called from invalid context in unmap_stage2_range',
      comm: 'oom_reaper',
      pid: 36,
    });
    expect(seed.stack.slice(3, 6)).toEqual([
      '___might_sleep',
      'unmap_stage2_range',
      'kvm_unmap_hva_range',
    ]);
    const builtin = (k: string) => ({
      source: 'builtin',
      scenario: 'oom-reap-arm64',
      kernel: k,
      arch: 'arm64',
      runId: null,
    });
    expect(seed.reproducedBy).toContainEqual(builtin('5.8'));
    expect(seed.reproducedBy).toContainEqual(builtin('5.8+flags'));
    expect(seed.reproducedBy).not.toContainEqual(builtin('5.8+fix'));
    expect(seed.reproducedBy).toContainEqual(
      expect.objectContaining({ source: 'store', runId: run.runId, kernel: '5.8' }),
    );
    expect(seed.fixedBy).toEqual(['5.8+fix', '5.8+fix+pair']);
    // what the model does not reproduce is still titled, and said so
    expect(other).toMatchObject({
      signature: 'BUG: sleeping function called from invalid context in xfs_buf_lock',
      reproducedBy: [],
      fixedBy: [],
    });
    const human = await mnsim('triage', log);
    expect(human.out).toContain('reproduced by oom-reap-arm64 on 5.8, 5.8+flags');
    expect(human.out).toContain('fixed by 5.8+fix, 5.8+fix+pair');
    expect(human.out).toContain('not reproduced by any built-in scenario or stored run');
    const missing = await mnsim('triage', join(dir, 'nope.txt'));
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/nope\.txt: cannot read it \(ENOENT\)/);
  });

  it('triage --record keeps the splats as observed findings, beside the simulated ones', async () => {
    const run = JSON.parse((await mnsim('run', 'oom-reap-arm64', '--json')).out);
    const log = join(dir, 'kern.log');
    writeFileSync(
      log,
      [
        ...GOLDEN_SPLAT.map((l) => `Dec  6 10:00:00 host kernel: [  123.456789] ${l}`),
        'Dec  6 10:00:01 host kernel: [  200.000001] BUG: scheduling while atomic: xfsaild/77/0x00000002',
        'Dec  6 10:00:01 host kernel: [  200.000002] CPU: 1 PID: 77 Comm: xfsaild Not tainted 5.10.0-8-amd64 #1',
        'Dec  6 10:00:01 host kernel: [  200.000003] Hardware name: QEMU Standard PC (Q35 + ICH9, 2009)',
        'Dec  6 10:00:01 host kernel: [  200.000004] Call Trace:',
        'Dec  6 10:00:01 host kernel: [  200.000005]  dump_stack+0x9a/0xd0',
        'Dec  6 10:00:01 host kernel: [  200.000006]  __schedule_bug.cold+0x1f/0x30',
        'Dec  6 10:00:01 host kernel: [  200.000007]  __schedule+0x5a1/0x7b0',
        'Dec  6 10:00:01 host kernel: [  200.000008]  xfs_buf_lock+0x31/0x120',
        'Dec  6 10:00:01 host kernel: [  200.000009]  xfsaild+0x2a5/0x950',
        'Dec  6 10:00:02 host kernel: [  201.000000] systemd[1]: Started Session 3.',
      ].join('\n') + '\n',
    );
    const first = await mnsim('triage', log, '--record', '--json');
    expect(first.code, first.err).toBe(0);
    const { reports, recorded } = JSON.parse(first.out);
    expect(reports).toHaveLength(2);
    // one observed run per release and architecture the log shows
    expect(recorded).toEqual([
      expect.objectContaining({ kernel: '5.8.0', arch: 'arm64', splats: 1, added: true }),
      expect.objectContaining({ kernel: '5.10.0-8-amd64', arch: 'x86', splats: 1, added: true }),
    ]);
    // the same log again adds nothing
    const again = JSON.parse((await mnsim('triage', log, '--record', '--json')).out);
    expect(again.recorded.map((r: { added: boolean }) => r.added)).toEqual([false, false]);
    // an observed finding is no reproducer: the stored reproducer is still the simulated run only
    expect(
      again.reports[0].reproducedBy.filter((p: { source: string }) => p.source === 'store'),
    ).toEqual([expect.objectContaining({ runId: run.runId })]);

    const observed = JSON.parse((await mnsim('violations', '--origin', 'observed', '--json')).out);
    expect(
      observed.map((v: { origin: string; scenario: string }) => [v.origin, v.scenario]),
    ).toEqual([
      ['observed', 'kern.log'],
      ['observed', 'kern.log'],
    ]);
    const seed = observed.find((v: { comm: string }) => v.comm === 'oom_reaper');
    expect(seed).toMatchObject({
      kind: 'atomic-sleep',
      signature: 'BUG: sleeping function called from invalid context in unmap_stage2_range',
      site: 'arch/arm64/kvm/mmu.c:394',
      inAtomic: 1,
      irqsDisabled: 0,
      nonBlock: 1,
      pid: 36,
      reported: true,
    });
    expect(seed.text.split('\n')[0]).toBe(GOLDEN_SPLAT[0]);
    expect(seed.text.split('\n')).toHaveLength(GOLDEN_SPLAT.length);

    // real and simulated side by side: one signature, counted from both
    const groups = JSON.parse((await mnsim('violations', '--group-by', 'signature', '--json')).out);
    const bySignature = new Map(groups.map((g: { signature: string }) => [g.signature, g]));
    expect(bySignature.get(seed.signature)).toMatchObject({
      count: run.violations.length + 1,
      observed: 1,
      runs: 2,
      kernels: ['5.8', '5.8.0'],
    });
    expect(bySignature.get('BUG: scheduling while atomic in xfs_buf_lock')).toMatchObject({
      count: 1,
      observed: 1,
      arches: ['x86'],
    });
    const table = await mnsim('violations', '--group-by', 'signature');
    expect(table.out).toMatch(/^COUNT\s+OBSERVED\s+RUNS/);

    // observed findings are not a projection of an event log: a rebuild keeps them
    const rebuilt = await mnsim('replay', '--rebuild', '--json');
    expect(rebuilt.code, rebuilt.err).toBe(0);
    expect(JSON.parse(rebuilt.out)).toMatchObject({ matches: true });
    expect(
      JSON.parse((await mnsim('violations', '--origin', 'observed', '--json')).out),
    ).toHaveLength(2);
    // and they have no log to export or replay
    const id = recorded[0].runId;
    for (const args of [
      ['export', id],
      ['replay', id],
    ]) {
      const r = await mnsim(...args);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/holds splats observed in a kernel log/);
    }
  });

  it('violations --kind: the findings of one kind, listed and grouped', async () => {
    // userptr-eagain: the reaper skips KVM's range_end on each of its 10 tries
    const run = JSON.parse((await mnsim('run', 'userptr-eagain-arm64', '--json')).out);
    const kinds = (vs: { kind: string }[]): string[] => [...new Set(vs.map((v) => v.kind))];
    expect(kinds(run.violations)).toEqual(['atomic-sleep', 'notifier-imbalance']);
    const imbalance = JSON.parse(
      (await mnsim('violations', '--json', '--kind', 'notifier-imbalance', '--run', run.runId)).out,
    );
    expect(imbalance).toHaveLength(10);
    expect(kinds(imbalance)).toEqual(['notifier-imbalance']);
    const groups = JSON.parse(
      (
        await mnsim(
          'violations',
          '--json',
          '--group-by',
          'signature',
          '--kind',
          'notifier-imbalance',
        )
      ).out,
    );
    expect(groups).toEqual([
      expect.objectContaining({
        signature:
          'notifier-imbalance: kvm_mmu_notifier_invalidate_range_end skipped in __oom_reap_task_mm',
        kind: 'notifier-imbalance',
        count: 10,
        runs: 1,
      }),
    ]);
    const bad = await mnsim('violations', '--kind', 'oops');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--kind <kind>' argument 'oops' is invalid/);
  });

  it('export writes a header and the lines its logHash covers; --expand, one whole event a line', async () => {
    const run = JSON.parse((await mnsim('run', 'userptr-eagain-arm64', '--json')).out);
    const file = join(dir, 'run.jsonl');
    const r = await mnsim('export', run.runId, '-o', file);
    expect(r.code).toBe(0);
    const [header, ...lines] = readFileSync(file, 'utf8').trimEnd().split('\n');
    const meta = { format: 'mnsim-log', runId: run.runId, scenario: 'userptr-eagain-arm64' };
    expect(JSON.parse(header)).toMatchObject({
      ...meta,
      version: 2,
      kernel: '5.8',
      events: run.events,
      logHash: run.logHash,
    });
    expect(logHashOf(lines)).toBe(run.logHash);
    const events = expandLines(lines).map(canonicalEventLine);
    expect(events).toHaveLength(run.events);

    const expanded = join(dir, 'run-expanded.jsonl');
    expect((await mnsim('export', run.runId, '--expand', '-o', expanded)).code).toBe(0);
    const [header1, ...lines1] = readFileSync(expanded, 'utf8').trimEnd().split('\n');
    expect(JSON.parse(header1)).toMatchObject({ ...meta, version: 1, logHash: logHashOf(lines1) });
    expect(lines1).toEqual(events);
    expect(lines1.map((l) => JSON.parse(l).seq)).toEqual([...Array(run.events).keys()]);
  });

  it.each([
    [
      ['run', 'no-such-scenario'],
      /^mnsim: unknown scenario "no-such-scenario": no such file and no such built-in scenario/,
    ],
    [['run', 'oom-reap-arm64', '--kernel', '5.9'], /argument '5\.9' is invalid/],
    [['run', 'oom-reap-arm64', '--seed', '-1'], /--seed must be a non-negative integer/],
    [
      ['violations', '--since', 'yesterday'],
      /^mnsim: --since "yesterday": expected an ISO 8601 date or instant/,
    ],
    [['violations', '--limit', '0'], /--limit must be between 1 and 1000/],
    [['violations', '--run', 'zzzz'], /^mnsim: no run matches 'zzzz'/],
    [['export', 'zzzz'], /^mnsim: no run matches 'zzzz'/],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ])('bad input %j exits 2 with one clear line', async (args, message) => {
    const r = await mnsim(...args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
  });

  // issue 15, finding 4: exit 3 (meant for a failed run) and a raw ENOENT message
  it.each([
    ['/nonexistent/d/x.jsonl', 'no such directory'],
    ['{dir}', 'is a directory'],
    ['{dir}/store.sqlite/x.jsonl', 'a part of the path is not a directory'],
  ])('export -o %s: exit 2 with one line, nothing written', async (path, reason) => {
    const run = JSON.parse((await mnsim('run', 'oom-reap-arm64', '--json')).out);
    writeFileSync(join(dir, 'store.sqlite'), '', { flag: 'a' }); // a file on either dialect
    const before = readdirSync(dir).sort();
    const file = path.replace('{dir}', dir);
    const r = await mnsim('export', run.runId, '-o', file);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toBe(`mnsim: cannot write ${file}: ${reason}\n`);
    expect(readdirSync(dir).sort()).toEqual(before);
  });

  it('export -o replaces a file whole', async () => {
    const run = JSON.parse((await mnsim('run', 'oom-reap-arm64', '--json')).out);
    const file = join(dir, 'x.jsonl');
    writeFileSync(file, 'an older export\n');
    expect((await mnsim('export', run.runId, '-o', file)).code).toBe(0);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(JSON.parse(lines[0]).runId).toBe(run.runId);
    expect(logHashOf(lines.slice(1))).toBe(run.logHash);
    expect(readdirSync(dir).filter((f) => f.includes('x.jsonl'))).toEqual(['x.jsonl']);
  });

  describe('issue 15: what reaches the terminal', () => {
    /** the forged line of finding 3, and an escape sequence that would clear the screen */
    const FORGED = '\x1b[2J\x1b[H\nmnsim: imported run FORGED';
    const forgedLine = /^mnsim: imported run FORGED/m;

    /** A run exported in version 1 (--expand): one whole event a line, which the cases edit. */
    async function exported(): Promise<{ runId: string; file: string; lines: string[] }> {
      const run = JSON.parse((await mnsim('run', 'oom-reap-arm64', '--json')).out);
      const file = join(dir, 'run.jsonl');
      expect((await mnsim('export', run.runId, '--expand', '-o', file)).code).toBe(0);
      return { runId: run.runId, file, lines: readFileSync(file, 'utf8').trimEnd().split('\n') };
    }

    it('import refuses a header whose run id holds ESC and a newline: exit 2, one line naming the field', async () => {
      const { lines } = await exported();
      const header = JSON.parse(lines[0]);
      header.runId = `1${FORGED}`;
      const file = join(dir, 'forged.jsonl');
      writeFileSync(file, [JSON.stringify(header), ...lines.slice(1)].join('\n') + '\n');
      const r = await mnsim('import', file);
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
      expect(r.err).toBe(
        `mnsim: ${file}:1: header: runId: must be 1 to 100 letters, digits, ".", "_" or "-", the first a letter or a digit\n`,
      );
      // and a 100,000-character id is not stored either
      header.runId = 'x'.repeat(100_000);
      writeFileSync(file, [JSON.stringify(header), ...lines.slice(1)].join('\n') + '\n');
      const long = await mnsim('import', file);
      expect(long.code).toBe(2);
      expect(long.err.length).toBeLessThan(300);
    });

    it.each([
      [
        ['export', FORGED],
        /^mnsim: no run matches '\\x1b\[2J\\x1b\[H\\nmnsim: imported run FORGED'\n$/,
      ],
      [['replay', FORGED], /^mnsim: no run matches '\\x1b\[2J/],
      [['violations', '--run', FORGED], /^mnsim: no run matches '\\x1b\[2J/],
      [
        ['import', `${FORGED}.jsonl`],
        /^mnsim: \\x1b\[2J\\x1b\[H\\nmnsim: imported run FORGED\.jsonl: no such file\n$/,
      ],
      [['run', `${FORGED}.yaml`], /^mnsim: unknown scenario .*\\u001b\[2J/],
      [[FORGED], /^error: unknown command '\\x1b\[2J\\x1b\[H\\nmnsim: imported run FORGED'\n/],
      [['run', `--${FORGED}`], /^error: unknown option '--\\x1b\[2J/],
    ])('an argument quoted in an error is escaped: %j', async (args, message) => {
      const r = await mnsim(...args);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err).not.toMatch(forgedLine);
      // eslint-disable-next-line no-control-regex
      expect(r.err).not.toMatch(/\x1b/);
    });

    it('a file name with control characters is escaped when a log in it is imported', async () => {
      const { runId, file } = await exported();
      const odd = join(dir, `odd${FORGED}.jsonl`);
      writeFileSync(odd, readFileSync(file));
      const r = await mnsim('import', odd);
      expect(r.code).toBe(0);
      expect(r.out).toBe(`${runId}\n`);
      expect(r.err).toMatch(/^mnsim: already in the store: run /);
      const e = await mnsim('export', runId, '-o', odd);
      expect(e.code).toBe(0);
      expect(e.err).toContain('odd\\x1b[2J\\x1b[H\\nmnsim: imported run FORGED.jsonl\n');
      expect(e.err).not.toMatch(forgedLine);
    });

    /** the exported log with every violation's comm replaced, its header rehashed */
    function withComm(lines: string[], comm: string, runId: string): string[] {
      const events = lines.slice(1).map((line) => {
        const e = JSON.parse(line);
        if (e.type !== 'violation') return line;
        e.payload.violation.comm = comm;
        return canonicalEventLine(e);
      });
      return [
        JSON.stringify({ ...JSON.parse(lines[0]), runId, logHash: logHashOf(events) }),
        ...events,
      ];
    }

    it("import refuses a recorded violation whose comm is no task's comm, naming its line", async () => {
      const { lines } = await exported();
      const line = lines.findIndex((l) => l.endsWith('"type":"violation"}')) + 1;
      for (const comm of [FORGED, 'qemu-system-aarch64']) {
        const file = join(dir, 'odd-comm.jsonl');
        writeFileSync(file, withComm(lines, comm, 'odd-comm').join('\n') + '\n');
        const r = await mnsim('import', file);
        expect(r.code).toBe(2);
        expect(r.err).toBe(
          `mnsim: ${file}:${line}: violation: comm: must be 1 to 15 printable ASCII characters\n`,
        );
      }
    });

    it("a stored violation's comm with control characters is escaped in every table and splat", async () => {
      const { lines } = await exported();
      // a store written before comm was checked at the edges: rows as an import wrote them then
      const edited = withComm(lines, FORGED, 'odd-comm');
      const header = JSON.parse(edited[0]);
      const store = await openStore(loadConfig().store);
      try {
        const meta = { scenario: header.scenario, kernel: header.kernel, arch: header.arch };
        await store.createRun({ runId: 'odd-comm', ...meta, seed: header.seed });
        const sink = store.createEventSink('odd-comm', meta);
        const recordedAt = new Date().toISOString();
        let violations = 0;
        const interner = new LogInterner();
        for (const line of edited.slice(1)) {
          const e = JSON.parse(line);
          const ownLines: string[] = [];
          interner.push(e, ownLines);
          const { id, seq, type, causationId, jiffies } = e;
          sink.append(
            { runId: 'odd-comm', id, seq, type, causationId, jiffies, recordedAt },
            ownLines,
          );
          if (e.type === 'violation') {
            sink.appendViolation(e.id, violationWithSeq(e.seq, e.payload.violation), recordedAt);
            violations++;
          }
        }
        await sink.flush();
        // the run's logHash covers its format 2 log
        const log = LogInterner.lines(edited.slice(1).map((l) => JSON.parse(l) as CanonicalEvent));
        await store.finishRun('odd-comm', {
          status: 'completed',
          events: header.events,
          logHash: logHashOf(log),
          violations,
        });
      } finally {
        await store.close();
      }
      const table = await mnsim('violations', '--run', 'odd-comm');
      expect(table.code).toBe(0);
      expect(table.out).toContain('\\x1b[2J\\x1b[H\\nmnsim: imported run FORGED');
      expect(table.out).not.toMatch(forgedLine);
      const replay = await mnsim('replay', 'odd-comm', '--kernel', '5.8+fix');
      expect(replay.code).toBe(0);
      expect(replay.out).toContain('\\x1b[2J\\x1b[H\\nmnsim: imported run FORGED[36]');
      expect(replay.out).not.toMatch(forgedLine);
      // eslint-disable-next-line no-control-regex
      expect(table.out + replay.out).not.toMatch(/\x1b/);
    });
  });

  it('run stops the 8 VMs × 509 memslots scenario at a limit: exit 3, one line, the run failed, with no log to export or replay', async () => {
    const file = join(dir, 'hostile.json');
    writeFileSync(file, JSON.stringify(hostileScenario()));
    const r = await mnsim('run', file, '--json');
    expect(r.code).toBe(3);
    expect(r.out).toBe('');
    expect(r.err).toMatch(
      /^mnsim: the run passed its limit of 2,097,152 bytes of log: [\d,]+ at seq \d+ \(MNSIM_MAX_RUN_BYTES sets the limit\)\n$/,
    );
    const store = await openStore(loadConfig().store);
    let failedRun: { runId: string; failureReason: string | null };
    try {
      const rows = (await store.listRuns({ scenario: 'hostile-memslots', limit: 10 })).rows;
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ status: 'failed', logHash: null });
      expect(`mnsim: ${rows[0].failureReason}\n`).toBe(r.err);
      failedRun = rows[0];
    } finally {
      await store.close();
    }
    // the limits are the user's to set (process.env is restored after each test)
    process.env.MNSIM_MAX_RUN_EVENTS = '5000';
    const fewer = await mnsim('run', file, '--json');
    expect(fewer.code).toBe(3);
    expect(fewer.err).toMatch(
      /^mnsim: the run passed its limit of 5,000 events: 5,001 at seq 5000 /,
    );

    // a failed run has no log: export refuses it as replay does, before any file is written
    const failed = failedRun.runId;
    const out = join(dir, 'failed.jsonl');
    const exported = await mnsim('export', failed, '-o', out);
    expect(exported.code).toBe(2);
    expect(exported.err).toBe(
      `mnsim: run ${failed} is failed (${failedRun.failureReason}): only completed runs have a log to export\n`,
    );
    expect(existsSync(out)).toBe(false);
    const replayed = await mnsim('replay', failed);
    expect(replayed.code).toBe(2);
    expect(replayed.err).toMatch(/: only completed runs can be replayed\n$/);
  });

  it('an invalid scenario file is refused naming the file, the field and the reason', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      readFileSync('scenarios/oom-reap-arm64.yaml', 'utf8').replace('ipaBits: 40', 'ipaBits: 60'),
    );
    const r = await mnsim('run', file, '--json');
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err.trimEnd().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(
      new RegExp(
        `^mnsim: ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: processes\\[0\\]\\.vms\\[0\\]\\.ipaBits: `,
      ),
    );
  });
});

describe('configuration', () => {
  it('refuses a database URL that is not postgres', async () => {
    const saved = process.env.MNSIM_DATABASE_URL;
    process.env.MNSIM_DATABASE_URL = 'mysql://localhost/x';
    try {
      const r = await mnsim('violations');
      expect(r.code).toBe(2);
      expect(r.err).toMatch(
        /^mnsim: MNSIM_DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ URL/,
      );
    } finally {
      if (saved === undefined) delete process.env.MNSIM_DATABASE_URL;
      else process.env.MNSIM_DATABASE_URL = saved;
    }
  });

  it.each([
    ['', 60_000],
    ['90', 90_000],
    ['2.5s', 2_500],
    ['1500ms', 1_500],
    ['2m', 120_000],
  ])('MNSIM_RUN_TIMEOUT=%j waits %d ms', (raw, ms) => {
    expect(parseRunTimeout(raw)).toBe(ms);
  });

  it.each(['0', '999ms', '25h', 'soon', '-5', '1e3', '10 minutes'])(
    'MNSIM_RUN_TIMEOUT=%j is refused with the variable and what it accepts, exit 2',
    async (raw) => {
      const saved = process.env.MNSIM_RUN_TIMEOUT;
      process.env.MNSIM_RUN_TIMEOUT = raw;
      try {
        const r = await mnsim('violations');
        expect(r.code).toBe(2);
        expect(r.err).toBe(
          `mnsim: MNSIM_RUN_TIMEOUT must be a duration from 1 s to 24 h, in seconds or with ms, s or m (got ${JSON.stringify(raw)})\n`,
        );
      } finally {
        if (saved === undefined) delete process.env.MNSIM_RUN_TIMEOUT;
        else process.env.MNSIM_RUN_TIMEOUT = saved;
      }
    },
  );

  it('lists the built-in scenarios', async () => {
    const r = await mnsim('scenarios', '--json');
    const list = JSON.parse(r.out) as { name: string; description: string }[];
    expect(list.map((s) => s.name)).toContain('oom-reap-arm64');
    expect(list.every((s) => s.description.length > 20)).toBe(true);
  });
});

/**
 * For each test of the block: a temporary directory with the embedded SQLite store in it, no
 * cluster; the environment restored afterwards. Returns the directory of the test running.
 */
function scratchSqlite(prefix: string): () => string {
  const saved = { ...process.env };
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
    delete process.env.MNSIM_DATABASE_URL;
    delete process.env.MNSIM_REDIS_URL;
    process.env.MNSIM_SQLITE_PATH = join(dir, 'store.sqlite');
  });
  afterEach(() => {
    process.env = { ...saved };
    rmSync(dir, { recursive: true, force: true });
  });
  return () => dir;
}

// issue 15, finding 5: the scenario cap was checked after reading the whole file
describe('files and standard input', () => {
  const dir = scratchSqlite('mnsim-files-');

  it('run refuses a 1.5 GB sparse scenario file by its size, at once', async () => {
    const file = join(dir(), 'big.yaml');
    const fd = openSync(file, 'w');
    ftruncateSync(fd, 1.5 * 1024 ** 3);
    closeSync(fd);
    const t0 = performance.now();
    const r = await mnsim('run', file);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toBe(`mnsim: ${file}: file is larger than 16MiB (1610612736 bytes)\n`);
  });

  // the CLI reads no standard input: `-` is not a file, so nothing unbounded is read from it
  it.each([
    [['run', '-'], /^mnsim: unknown scenario "-": no such file/],
    [['import', '-'], /^mnsim: -: no such file\n$/],
    [['replay', '-'], /^mnsim: no run matches '-'\n$/],
  ])('%j is refused without reading standard input', async (args, message) => {
    const read = vi.spyOn(process.stdin, 'read');
    try {
      const r = await mnsim(...args);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(message);
      expect(read).not.toHaveBeenCalled();
    } finally {
      read.mockRestore();
    }
  });
});

describe('mnsim fuzz', () => {
  scratchSqlite('mnsim-fuzz-');

  it('the same seed gives the same campaign; another seed another one', async () => {
    const a = await mnsim('fuzz', '--runs', '30', '--seed', '4', '--json');
    expect(a.code).toBe(0);
    const sa = JSON.parse(a.out);
    expect(sa).toMatchObject({ seed: 4, runs: 30, completed: 30, failed: 0 });
    expect(sa.campaignHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    const sb = JSON.parse((await mnsim('fuzz', '--runs', '30', '--seed', '4', '--json')).out);
    expect(sb).toEqual(sa);
    const sc = JSON.parse((await mnsim('fuzz', '--runs', '30', '--seed', '5', '--json')).out);
    expect(sc.campaignHash).not.toBe(sa.campaignHash);
  });

  it('summarises violations by signature, variant and arch, and records every run', async () => {
    const s = JSON.parse((await mnsim('fuzz', '--runs', '60', '--seed', '2', '--json')).out);
    expect(s.violations).toBeGreaterThan(0);
    const total = s.bySignature.reduce((n: number, r: { count: number }) => n + r.count, 0);
    expect(total).toBe(s.violations);
    // only arm64 before the fix can sleep in atomic context on these paths
    const sleeps = s.bySignature.filter((r: { kind: string }) => r.kind === 'atomic-sleep');
    expect(sleeps.length).toBeGreaterThan(0);
    for (const r of sleeps) {
      expect(r.arch).toBe('arm64');
      expect(['5.8', '5.8+flags', '5.8+pair', '5.8+flags+pair']).toContain(r.kernel);
    }
    const recorded = JSON.parse((await mnsim('violations', '--json', '--limit', '1000')).out);
    expect(recorded).toHaveLength(Math.min(1000, s.violations));
    const human = await mnsim('fuzz', '--runs', '5', '--seed', '2');
    expect(human.out).toMatch(
      /^campaign seed 2: 5 runs, 5 completed, 0 failed, \d+ violations\ncampaignHash sha256:/,
    );
    expect(human.err).toMatch(/mnsim: fuzz 5\/5 runs/);
  });
});

describe('mnsim run --distributed without a cluster', () => {
  it('refuses at once, naming the queue nobody serves', async () => {
    const saved = { ...process.env };
    const prefix = `mnsim-nocluster-${randomBytes(4).toString('hex')}`;
    process.env.MNSIM_QUEUE_PREFIX = prefix;
    try {
      const r = await mnsim('run', 'oom-reap-arm64', '--distributed', '--json');
      expect(r.code).toBe(3);
      expect(r.out).toBe('');
      expect(r.err).toMatch(
        /^mnsim: no mnsim worker serves queue "orchestrator" \(prefix mnsim-nocluster-[0-9a-f]+\) on redis:\/\/127\.0\.0\.1:6379/,
      );
    } finally {
      process.env = saved;
      // asking a queue for its workers leaves its meta key: leave Redis as we found it
      await dropPrefix(prefix);
    }
  });

  it.each([
    ['run', 'oom-reap-arm64', '--distributed', '--json'],
    ['fuzz', '--runs', '2', '--distributed', '--json'],
  ])(
    'with Redis unreachable, mnsim %s refuses within seconds with one line, no stack',
    async (...args) => {
      const saved = { ...process.env };
      // a port nothing listens on: bind one, note it, close it
      const port = await new Promise<number>((resolve) => {
        const srv = createServer().listen(0, '127.0.0.1', () => {
          const p = (srv.address() as { port: number }).port;
          srv.close(() => resolve(p));
        });
      });
      process.env.MNSIM_REDIS_URL = `redis://127.0.0.1:${port}`;
      try {
        const t0 = Date.now();
        const r = await mnsim(...args);
        expect(Date.now() - t0).toBeLessThan(20_000); // not forever
        expect(r.code).toBe(3);
        expect(r.out).toBe('');
        expect(r.err).toMatch(
          new RegExp(
            `^mnsim: cannot reach Redis at redis://127\\.0\\.0\\.1:${port} \\(.*ECONNREFUSED.*\\)`,
          ),
        );
        expect(r.err.trim().split('\n')).toHaveLength(1);
      } finally {
        process.env = saved;
      }
    },
  );
});
