/**
 * Stage-2 geometry and the violation count of the OOM reap (reference §5.1; §9 oracles 1, 4, 5 and
 * the scale requirement). Expected counts come from the §5.1 table and formula, transcribed in
 * helpers.ts; the model's stage2Geometry()/stage2Checks() are themselves checked against them.
 */
import { describe, expect, it } from 'vitest';
import { stage2Checks, stage2Geometry, stage2PgdAddrEnd } from '@mnsim/kernel';
import {
  GiB,
  KiB,
  MiB,
  SITE_394,
  STAGE2_TABLE,
  TiB,
  UNFIXED,
  VARIANTS,
  checks,
  guestDoc,
  kvmStartsBy,
  pgdirSize,
  reaperTask,
  reaperTries,
  run,
  scenarioOf,
  tracesOf,
  vm,
} from './helpers.js';

describe('§5.1 table: stage2Geometry() gives every row', () => {
  it.each(STAGE2_TABLE.map((r) => [`${r.page / KiB}K IPA ${r.ipa}`, r] as const))(
    '%s',
    (_label, r) => {
      const g = stage2Geometry(r.page, r.ipa);
      expect(g.levels).toBe(r.levels);
      expect(g.pgdirSize).toBe(r.S);
      expect(2 ** g.pgdirShift).toBe(r.S);
      expect(g.pgdPtrs).toBe(r.entries);
      // stage2_pgd_ptrs entries of S bytes cover exactly the IPA space
      expect(g.pgdPtrs * g.pgdirSize).toBe(2 ** r.ipa);
    },
  );
});

// [gpa, size, S, checks], counted by hand from the boundaries crossed
const FORMULA_CASES: [string, number, number, number, number][] = [
  ['3GiB at 1GiB, 1GiB entries', GiB, 3 * GiB, GiB, 2],
  ['1GiB at 1GiB: ends on the boundary', GiB, GiB, GiB, 0],
  ['512MiB at 1GiB: inside one entry', GiB, 512 * MiB, GiB, 0],
  ['8KiB straddling 1GiB', GiB - 4 * KiB, 8 * KiB, GiB, 1],
  ['512MiB at 1.75GiB crosses 2GiB', 0x70000000, 512 * MiB, GiB, 1],
  ['whole 1TiB IPA space, 1GiB entries', 0, TiB, GiB, 1023],
  ['2GiB at 511GiB, 512GiB entries', 511 * GiB, 2 * GiB, 512 * GiB, 1],
  ['256MiB at 1GiB, 32MiB entries', GiB, 256 * MiB, 32 * MiB, 7],
  ['2GiB at 1GiB, 512MiB entries', GiB, 2 * GiB, 512 * MiB, 3],
  ['6MiB at 1MiB, 2MiB entries', MiB, 6 * MiB, 2 * MiB, 3],
  ['8TiB at 2TiB, 4TiB entries', 2 * TiB, 8 * TiB, 4 * TiB, 2],
];

describe('§5.1 formula: checks = floor((gpa+size-1)/S) − floor(gpa/S)', () => {
  it.each(FORMULA_CASES)('%s', (_l, gpa, size, S, n) => {
    expect(checks(gpa, size, S)).toBe(n);
    expect(stage2Checks(gpa, size, S)).toBe(n);
  });

  // stage2_pgd_addr_end(addr, end): b = (addr + S) & ~(S−1); b if b − 1 < end − 1, else end
  it.each([
    [GiB, 4 * GiB, GiB, 2 * GiB],
    [GiB + 4 * KiB, 4 * GiB, GiB, 2 * GiB],
    [GiB, 2 * GiB, GiB, 2 * GiB],
    [GiB, GiB + 512 * MiB, GiB, GiB + 512 * MiB],
    [0x70000000, 0x90000000, GiB, 2 * GiB],
    [2 * GiB, 0x90000000, GiB, 0x90000000],
  ])('stage2_pgd_addr_end(%d, %d, S=%d) = %d', (addr, end, S, next) => {
    expect(stage2PgdAddrEnd(addr, end, S)).toBe(next);
  });
});

/** A guest whose RAM is one anonymous private VMA and one memslot, killed by an explicit oom. */
function oneSlot(name: string, page: number, ipa: number, gpa: number, size: number) {
  return scenarioOf(
    guestDoc({
      name,
      pageSize: page,
      ipaBits: ipa,
      memory: 64 * GiB,
      memslots: [{ gpa, hva: GiB, size }],
    }),
  );
}

describe('oracle 5: every geometry of §5.1 gives `checks` violations per reaper try', () => {
  const cases = STAGE2_TABLE.flatMap((r, i) => {
    const k = 1 + (i % 3);
    return [
      { label: `${r.page / KiB}K IPA ${r.ipa}: ${k}·S at S/2`, r, gpa: r.S / 2, size: k * r.S },
      { label: `${r.page / KiB}K IPA ${r.ipa}: ${k}·S at S`, r, gpa: r.S, size: k * r.S },
    ];
  });

  it.each(cases.map((c) => [c.label, c] as const))('%s', (_l, c) => {
    const S = pgdirSize(c.r.page, c.r.ipa);
    const want = checks(c.gpa, c.size, S);
    const s = oneSlot('geometry', c.r.page, c.r.ipa, c.gpa, c.size);
    for (const kernel of VARIANTS) {
      const r = run(s, kernel);
      const reaper = reaperTask(r);
      expect(reaperTries(r)).toEqual([10]);
      const walk = tracesOf(r, 'unmap_stage2_range').filter((t) => t.stim.pid === reaper.pid);
      expect(walk).toHaveLength(1);
      expect(walk[0].detail.pgdirSize).toBe(S);
      expect(walk[0].detail.gpa).toBe(c.gpa);
      expect(walk[0].detail.size).toBe(c.size);
      // the do/while visits every PGD entry the range touches: checks + 1 of them
      expect(walk[0].detail.entries).toBe(want + 1);
      if (kernel === '5.8+fix') {
        expect(r.violations).toHaveLength(0);
        expect(walk[0].detail.checks).toBe(0);
      } else {
        expect(walk[0].detail.checks).toBe(want);
        expect(r.violations).toHaveLength(want);
        for (const v of r.violations) {
          expect(v.site).toBe(SITE_394);
          expect(v.jiffies).toBe(10);
        }
      }
    }
  });
});

describe('oracle 4: a range inside one stage-2 PGD entry never reaches cond_resched_lock', () => {
  // [label, memslots, VMAs (undefined: one VMA over the memslots), checks per try]
  type Case = [string, { gpa: number; hva: number; size: number }[], number];
  const table: Case[] = [
    ['gpa 1GiB..1.5GiB (one entry)', [{ gpa: GiB, hva: GiB, size: 512 * MiB }], 0],
    ['gpa 1GiB..2GiB (ends on the boundary)', [{ gpa: GiB, hva: GiB, size: GiB }], 0],
    [
      'hva inside one 1GiB block, gpa 1.75..2.25GiB crosses 2GiB',
      [{ gpa: 0x70000000, hva: GiB, size: 512 * MiB }],
      1,
    ],
    [
      'hva 1.75..2.25GiB crosses 2GiB, gpa inside one entry',
      [{ gpa: GiB, hva: 0x70000000, size: 512 * MiB }],
      0,
    ],
    ['two pages straddling gpa 2GiB', [{ gpa: 2 * GiB - 4 * KiB, hva: GiB, size: 8 * KiB }], 1],
    [
      'two memslots meeting at gpa 2GiB: each stays inside its entry',
      [
        { gpa: 0x60000000, hva: GiB, size: 512 * MiB },
        { gpa: 2 * GiB, hva: GiB + 512 * MiB, size: 512 * MiB },
      ],
      0,
    ],
  ];

  it.each(table)('%s', (_l, memslots, perTry) => {
    const s = scenarioOf(guestDoc({ name: 'alignment', memslots }));
    // the expectation, from the formula per memslot
    expect(memslots.reduce((n, m) => n + checks(m.gpa, m.size, pgdirSize(4 * KiB, 40)), 0)).toBe(
      perTry,
    );
    for (const kernel of VARIANTS) {
      const r = run(s, kernel);
      // the reaper did call KVM: the walk ran, it just had no boundary to cross
      expect(kvmStartsBy(r, reaperTask(r).pid)).toHaveLength(1);
      expect(r.violations).toHaveLength(kernel === '5.8+fix' ? 0 : perTry);
    }
  });

  it('checks are per reaped VMA: a memslot split by two VMAs at gpa 2GiB gives one check, not two', () => {
    // one memslot gpa 1GiB..4GiB; the VMAs split its hva range where the gpa is 2GiB
    const doc = guestDoc({
      name: 'vma-split',
      memslots: [{ gpa: GiB, hva: GiB, size: 3 * GiB }],
      vmas: [
        { start: GiB, size: GiB },
        { start: 2 * GiB, size: 2 * GiB },
      ],
    });
    const S = pgdirSize(4 * KiB, 40);
    const want = checks(GiB, GiB, S) + checks(2 * GiB, 2 * GiB, S);
    expect(want).toBe(1);
    for (const kernel of UNFIXED)
      expect(run(scenarioOf(doc), kernel).violations).toHaveLength(want);
  });

  it('empty PGD entries are walked too: a never-faulted guest still gets `checks` violations', () => {
    const doc = guestDoc({
      name: 'never-faulted',
      memslots: [{ gpa: GiB, hva: GiB, size: 3 * GiB }],
      steps: [{ at: 10, do: 'oom' }],
    });
    for (const kernel of VARIANTS) {
      const r = run(scenarioOf(doc), kernel);
      expect(vm(r).mapped).toEqual([]);
      expect(r.violations).toHaveLength(kernel === '5.8+fix' ? 0 : 2);
    }
  });
});

describe('scale: TiB guests follow the formula', () => {
  it.each([
    ['1TiB guest, 4K pages, IPA 44 (512GiB entries)', 4 * KiB, 44, 256 * GiB, TiB],
    ['1TiB guest, 4K pages, IPA 42 (1GiB entries)', 4 * KiB, 42, GiB, TiB],
    ['4TiB guest, 16K pages, IPA 48 (64GiB entries)', 16 * KiB, 48, 32 * GiB, 4 * TiB],
    ['8TiB guest, 64K pages, IPA 52 (4TiB entries)', 64 * KiB, 52, 2 * TiB, 8 * TiB],
  ])('%s', (_l, page, ipa, gpa, size) => {
    const want = checks(gpa, size, pgdirSize(page, ipa));
    const s = scenarioOf(
      guestDoc({
        name: 'scale',
        pageSize: page,
        ipaBits: ipa,
        memory: 16 * TiB,
        memslots: [{ gpa, hva: GiB, size }],
      }),
    );
    const r = run(s, '5.8');
    expect(r.violations).toHaveLength(want);
    // one reaper pass shares one jiffy: only its first violation is printed
    expect(r.violations.filter((v) => v.reported)).toHaveLength(want > 0 ? 1 : 0);
    expect(vm(r).mapped).toEqual([]);
    expect(run(s, '5.8+fix').violations).toHaveLength(0);
  });
});

describe('scale: state grows with intervals, never with bytes mapped', () => {
  // the same layout at 1GiB and at 1TiB: after the fault-in, every byte-range structure of the
  // model (host rss, host page-table span, stage-2 mappings) holds the same number of intervals
  const shapeAfterFaultIn = (size: number) => {
    const s = scenarioOf(
      guestDoc({
        name: 'shape',
        pageSize: 4 * KiB,
        ipaBits: 44,
        memory: 16 * TiB,
        memslots: [{ gpa: GiB, hva: GiB, size }],
      }),
    );
    const faultOnly = { ...s, steps: s.steps.filter((st) => st.do === 'fault-in') };
    const r = run(faultOnly, '5.8');
    const task = r.states.mm.tasks.find((t) => t.mm && t.mm.vmas.some((v) => v.start === GiB));
    return {
      resident: task?.mm?.resident.length,
      tables: task?.mm?.tables.length,
      mapped: vm(r).mapped?.length,
      stateBytes: JSON.stringify(r.states).length,
    };
  };

  it('a 1TiB guest holds as many intervals as a 1GiB one', () => {
    const small = shapeAfterFaultIn(GiB);
    const big = shapeAfterFaultIn(TiB);
    expect(big.resident).toBe(small.resident);
    expect(big.tables).toBe(small.tables);
    expect(big.mapped).toBe(small.mapped);
    expect(small.mapped).toBe(2);
    // only the digits of the addresses differ
    expect(big.stateBytes - small.stateBytes).toBeLessThan(64);
  });
});
