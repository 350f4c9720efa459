import { describe, expect, it } from 'vitest';
import { type Scenario } from '@mnsim/kernel';
import { ScenarioError } from './errors.js';
import { parseScenario, scenarioFromData } from './parse.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** The example of design.md, "Scenario files (YAML) — the contract", verbatim. */
const DESIGN_EXAMPLE = `
name: oom-reap-arm64            # [a-z0-9-]+
description: OOM reaper unmaps a 3 GiB guest on arm64
kernel: "5.8"                   # 5.8 | 5.8+flags | 5.8+fix   (CLI --kernel overrides)
seed: 1                         # CLI --seed overrides
hz: 250
host:
  arch: arm64                   # arm64 | x86 | mips | powerpc-book3s-hv | powerpc-book3s-pr | powerpc-e500
  memory: 8GiB
  pageSize: 4KiB                # arm64 also 16KiB, 64KiB
processes:
  - pid: 1200
    comm: qemu-system-aarch64
    oomScoreAdj: 0
    vmas:
      - { start: 0x40000000, size: 3GiB, anon: true, shared: false }
    vms:                        # KVM instances of this process: mmu-notifier subscribers on its mm
      - name: guest0
        ipaBits: 40
        memslots:
          - { gpa: 0x40000000, hva: 0x40000000, size: 3GiB }
  - pid: 1300
    comm: stress-ng
    oomScoreAdj: -1000          # OOM_SCORE_ADJ_MIN: never chosen, so the OOM killer picks qemu
    vmas:
      - { start: 0x100000000, size: 4GiB, anon: true }
subscribers:                    # other mmu-notifier users on a process's mm (optional)
  - { pid: 1200, kind: userptr, nonBlockable: eagain }
  - { pid: 1200, kind: interval, start: 0x40000000, size: 2MiB, nonBlockable: ok }
steps:                          # stimuli, at virtual times in jiffies
  - { at: 0,   do: fault-in, vm: guest0 }                # populate stage-2 for all memslots
  - { at: 10,  do: allocate, pid: 1300, size: 6GiB }     # past host memory → out_of_memory()
  - { at: 20,  do: hold-mmap-lock, pid: 1200, for: 30 }  # reaper's trylock fails meanwhile
  - { at: 60,  do: munmap, pid: 1300, start: 0x100000000, size: 1GiB }
  - { at: 70,  do: migrate, pid: 1200, start: 0x40000000, size: 2MiB }
  - { at: 80,  do: mprotect, pid: 1200, start: 0x40000000, size: 2MiB }
  - { at: 90,  do: destroy-vm, vm: guest0 }
  - { at: 100, do: exit, pid: 1300 }
  - { at: 110, do: oom }                                 # explicit out_of_memory(), like sysrq-f
`;

const MINIMAL = `
name: minimal
host: { arch: x86, memory: 1GiB }
processes:
  - pid: 1200
    comm: qemu-system-x86_64
    vmas: [{ start: 0x7f0000000000, size: 512MiB }]
    vms:
      - name: vm0
        memslots: [{ gpa: 0, hva: 0x7f0000000000, size: 512MiB }]
`;

describe('parseScenario', () => {
  it('reads the design example into bytes and jiffies', () => {
    const s = parseScenario(DESIGN_EXAMPLE, 'design.yaml');
    expect(s.name).toBe('oom-reap-arm64');
    expect(s.kernel).toBe('5.8');
    expect(s.host).toEqual({
      arch: 'arm64',
      memory: 8 * GiB,
      pageSize: 4096,
      cpus: 4,
      lockdep: false,
    });
    expect(s.processes[0].vmas[0]).toEqual({
      start: 0x40000000,
      size: 3 * GiB,
      anon: true,
      shared: false,
      locked: false,
      hugetlb: false,
      pfnmap: false,
    });
    expect(s.processes[0].vms[0]).toEqual({
      name: 'guest0',
      ipaBits: 40,
      memslots: [{ gpa: 0x40000000, hva: 0x40000000, size: 3 * GiB }],
    });
    expect(s.subscribers).toEqual([
      { kind: 'userptr', pid: 1200, nonBlockable: 'eagain' },
      { kind: 'interval', pid: 1200, nonBlockable: 'ok', start: 0x40000000, size: 2 * MiB },
    ]);
    expect(s.steps).toEqual([
      { at: 0, do: 'fault-in', vm: 'guest0' },
      { at: 10, do: 'allocate', pid: 1300, size: 6 * GiB },
      { at: 20, do: 'hold-mmap-lock', pid: 1200, for: 30 },
      { at: 60, do: 'munmap', pid: 1300, start: 0x100000000, size: GiB },
      { at: 70, do: 'migrate', pid: 1200, start: 0x40000000, size: 2 * MiB },
      { at: 80, do: 'mprotect', pid: 1200, start: 0x40000000, size: 2 * MiB },
      { at: 90, do: 'destroy-vm', vm: 'guest0' },
      { at: 100, do: 'exit', pid: 1300 },
      { at: 110, do: 'oom' },
    ]);
  });

  it('fills every default', () => {
    const s = parseScenario(MINIMAL, 'minimal.yaml');
    const expected: Scenario = {
      name: 'minimal',
      description: '',
      kernel: '5.8',
      seed: 1,
      hz: 250,
      host: { arch: 'x86', memory: GiB, pageSize: 4096, cpus: 4, lockdep: false },
      processes: [
        {
          pid: 1200,
          comm: 'qemu-system-x86_64',
          oomScoreAdj: 0,
          vmas: [
            {
              start: 0x7f0000000000,
              size: 512 * MiB,
              anon: true,
              shared: false,
              locked: false,
              hugetlb: false,
              pfnmap: false,
            },
          ],
          vms: [
            {
              name: 'vm0',
              ipaBits: 40,
              memslots: [{ gpa: 0, hva: 0x7f0000000000, size: 512 * MiB }],
            },
          ],
        },
      ],
      subscribers: [],
      steps: [],
    };
    expect(s).toEqual(expected);
    // plain data: what the canonical encoding and the kernel see
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });

  it('gives each parse its own default lists', () => {
    const a = parseScenario(MINIMAL, 'a.yaml');
    const b = parseScenario(MINIMAL, 'b.yaml');
    a.steps.push({ at: 0, do: 'oom' });
    expect(b.steps).toEqual([]);
  });

  it('takes an unquoted 5.8 as the kernel "5.8", and the other variants as strings', () => {
    expect(parseScenario(`${MINIMAL}kernel: 5.8\n`, 'k.yaml').kernel).toBe('5.8');
    expect(parseScenario(`${MINIMAL}kernel: 5.8+flags\n`, 'k.yaml').kernel).toBe('5.8+flags');
    expect(parseScenario(`${MINIMAL}kernel: "5.8+fix"\n`, 'k.yaml').kernel).toBe('5.8+fix');
  });

  it('reads sizes and addresses in every accepted form', () => {
    const s = parseScenario(
      `${MINIMAL}steps:
  - { at: 1, do: munmap, pid: 1200, start: "0x7f0000000000", size: "4096" }
  - { at: 2, do: munmap, pid: 1200, start: 139637976727552, size: 8KiB }
  - { at: 3, do: allocate, pid: 1200, size: 512 MiB }
  - { at: 4, do: allocate, pid: 1200, size: 0x200000 }
`,
      'sizes.yaml',
    );
    expect(s.steps).toEqual([
      { at: 1, do: 'munmap', pid: 1200, start: 0x7f0000000000, size: 4096 },
      { at: 2, do: 'munmap', pid: 1200, start: 0x7f0000000000, size: 8192 },
      { at: 3, do: 'allocate', pid: 1200, size: 512 * MiB },
      { at: 4, do: 'allocate', pid: 1200, size: 2 * MiB },
    ]);
  });

  it('sorts steps by jiffy, keeping file order within a jiffy', () => {
    const s = parseScenario(
      `${MINIMAL}steps:
  - { at: 30, do: oom }
  - { at: 10, do: munmap, pid: 1200, start: 0x7f0000000000, size: 4KiB }
  - { at: 30, do: exit, pid: 1200 }
  - { at: 10, do: fault-in, vm: vm0 }
  - { at: 0, do: allocate, pid: 1200, size: 4KiB }
`,
      'order.yaml',
    );
    expect(s.steps.map((st) => `${st.at}:${st.do}`)).toEqual([
      '0:allocate',
      '10:munmap',
      '10:fault-in',
      '30:oom',
      '30:exit',
    ]);
  });

  it('accepts a userptr range, a memslot spanning adjacent VMAs and every page size of arm64', () => {
    for (const pageSize of ['4KiB', '16KiB', '64KiB']) {
      const s = parseScenario(
        `
name: spans
host: { arch: arm64, memory: 4GiB, pageSize: ${pageSize} }
processes:
  - pid: 1200
    comm: qemu
    vmas:
      - { start: 0x40000000, size: 1GiB }
      - { start: 0x80000000, size: 1GiB, locked: true }
    vms:
      - name: guest0
        ipaBits: 36
        memslots: [{ gpa: 0x80000000, hva: 0x40000000, size: 2GiB }]
subscribers:
  - { pid: 1200, kind: userptr, start: 0x40000000, size: 2MiB, nonBlockable: ok }
`,
        'spans.yaml',
      );
      expect(s.subscribers[0]).toEqual({
        kind: 'userptr',
        pid: 1200,
        nonBlockable: 'ok',
        start: 0x40000000,
        size: 2 * MiB,
      });
    }
  });

  it('accepts JSON, which is YAML too, and plain data', () => {
    const json = JSON.stringify({
      name: 'json',
      host: { arch: 'mips', memory: '64MiB' },
      processes: [{ pid: 1, comm: 'init' }],
      steps: [{ at: 5, do: 'oom' }],
    });
    const s = parseScenario(json, 'body.json');
    expect(s.processes[0].pid).toBe(1);
    expect(scenarioFromData(JSON.parse(json), 'POST /runs')).toEqual(s);
    expect(scenarioFromData(s, 'again')).toEqual(s);
    expect(() => scenarioFromData({ ...s, hz: 200 }, 'POST /runs')).toThrow(
      new ScenarioError('POST /runs', 'hz', 'must be one of: 100, 250, 300, 1000; got number 200'),
    );
  });

  it('follows YAML anchors and aliases', () => {
    const s = parseScenario(
      `
name: aliases
host: { arch: arm64, memory: 8GiB }
processes:
  - pid: 1200
    comm: qemu-a
    vmas: &ram [{ start: 0x40000000, size: 1GiB }]
  - pid: 1300
    comm: qemu-b
    vmas: *ram
`,
      'aliases.yaml',
    );
    expect(s.processes[1].vmas).toEqual(s.processes[0].vmas);
    expect(s.processes[1].vmas).not.toBe(s.processes[0].vmas);
  });
});
