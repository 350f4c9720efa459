import { describe, expect, it } from 'vitest';
import { ScenarioError } from './errors.js';
import { parseScenario, scenarioFromData } from './parse.js';

const BASE = `name: t
host:
  arch: arm64
  memory: 8GiB
processes:
  - pid: 1200
    comm: qemu
    vmas:
      - { start: 0x40000000, size: 3GiB }
    vms:
      - name: guest0
        memslots:
          - { gpa: 0x40000000, hva: 0x40000000, size: 3GiB }
steps:
  - { at: 0, do: fault-in, vm: guest0 }
`;

/** BASE with `from` replaced by `to` (which must occur). */
function edit(from: string, to: string, text = BASE): string {
  if (!text.includes(from)) throw new Error(`test bug: ${from} not in the scenario`);
  return text.replace(from, to);
}

function errorOf(text: string, file = 'bad.yaml'): ScenarioError {
  try {
    parseScenario(text, file);
  } catch (e) {
    if (e instanceof ScenarioError) return e;
    throw e;
  }
  throw new Error('test bug: the scenario was accepted');
}

const processes = (n: number): string =>
  Array.from({ length: n }, (_, i) => `  - { pid: ${1000 + i}, comm: p${i} }\n`).join('');

describe('invalid scenarios: one line naming the file, the field path and the reason', () => {
  const cases: [string, string, string][] = [
    // [what, scenario text, exact message]
    [
      'unknown key at the top level',
      `${BASE}colour: red\n`,
      'bad.yaml: colour: unknown key "colour" (allowed here: name, description, kernel, seed, hz, host, processes, subscribers, steps)',
    ],
    [
      'unknown key nested in a list',
      edit('size: 3GiB }\n    vms', 'size: 3GiB, mlocked: true }\n    vms'),
      'bad.yaml: processes[0].vmas[0].mlocked: unknown key "mlocked" (allowed here: start, size, anon, shared, locked, hugetlb, pfnmap)',
    ],
    [
      'an argument of another step kind',
      `${BASE}  - { at: 5, do: oom, pid: 1200 }\n`,
      'bad.yaml: steps[1].pid: unknown key "pid" (allowed here: at, do)',
    ],
    [
      'wrong type',
      edit('pid: 1200', 'pid: "1200"'),
      'bad.yaml: processes[0].pid: expected an integer, got string "1200"',
    ],
    [
      'wrong type: not a boolean (YAML 1.2 has no yes/no)',
      edit('size: 3GiB }\n    vms', 'size: 3GiB, anon: yes }\n    vms'),
      'bad.yaml: processes[0].vmas[0].anon: expected true or false, got string "yes"',
    ],
    [
      'wrong type: the document is a list',
      '- name: t\n',
      'bad.yaml: expected a mapping, got a list',
    ],
    [
      'missing required key',
      edit('  memory: 8GiB\n', ''),
      'bad.yaml: host.memory: required key is missing',
    ],
    [
      'bad enum',
      edit('arch: arm64', 'arch: riscv'),
      'bad.yaml: host.arch: must be one of: arm64, x86, mips, powerpc-book3s-hv, powerpc-book3s-pr, powerpc-e500; got string "riscv"',
    ],
    [
      'bad kernel variant',
      `${BASE}kernel: 5.9\n`,
      'bad.yaml: kernel: must be one of: 5.8, 5.8+flags, 5.8+fix, 5.8+pair, 5.8+flags+pair, 5.8+fix+pair; got number 5.9',
    ],
    [
      'bad hz',
      `${BASE}hz: 200\n`,
      'bad.yaml: hz: must be one of: 100, 250, 300, 1000; got number 200',
    ],
    [
      'unknown step kind',
      `${BASE}  - { at: 5, do: reboot }\n`,
      'bad.yaml: steps[1].do: unknown step kind "reboot" (known: fault-in, vcpu-fault, allocate, hold-mmap-lock, munmap, migrate, mprotect, destroy-vm, exit, oom)',
    ],
    [
      'a vcpu-fault outside every memslot of its vm',
      `${BASE}  - { at: 5, do: vcpu-fault, vm: guest0, gpa: 0x10000000 }\n`,
      'bad.yaml: steps[1].gpa: 0x10000000 is in no memslot of vm "guest0"',
    ],
    [
      'a vcpu-fault on an unknown vm',
      `${BASE}  - { at: 5, do: vcpu-fault, vm: guest9, gpa: 0x40000000 }\n`,
      'bad.yaml: steps[1].vm: vm "guest9" not found; known vms: guest0',
    ],
    [
      'a vcpu-fault without its gpa',
      `${BASE}  - { at: 5, do: vcpu-fault, vm: guest0 }\n`,
      'bad.yaml: steps[1].gpa: required key is missing',
    ],
    [
      'unknown subscriber kind',
      `${BASE}subscribers:\n  - { pid: 1200, kind: hmm }\n`,
      'bad.yaml: subscribers[0].kind: unknown subscriber kind "hmm" (known: userptr, interval)',
    ],
    [
      'bad size unit GB',
      edit('memory: 8GiB', 'memory: 8GB'),
      'bad.yaml: host.memory: size unit "GB" is not accepted: use GiB (units are KiB, MiB, GiB, TiB, powers of 1024); GB would be ambiguous (powers of 1000 or of 1024)',
    ],
    [
      'bad size unit mb',
      edit('size: 3GiB }\n    vms', 'size: 3072 mb }\n    vms'),
      'bad.yaml: processes[0].vmas[0].size: size unit "mb" is not accepted: use MiB (units are KiB, MiB, GiB, TiB, powers of 1024); mb would be ambiguous (powers of 1000 or of 1024)',
    ],
    [
      'overlapping VMAs',
      edit(
        '- { start: 0x40000000, size: 3GiB }',
        '- { start: 0x40000000, size: 3GiB }\n      - { start: 0x80000000, size: 1GiB }',
      ),
      'bad.yaml: processes[0].vmas[1]: vmas[1] [0x80000000, 0xc0000000) overlaps vmas[0] [0x40000000, 0x100000000)',
    ],
    [
      'memslot outside any VMA',
      edit('hva: 0x40000000, size: 3GiB', 'hva: 0x80000000, size: 3GiB'),
      'bad.yaml: processes[0].vms[0].memslots[0].hva: hva range [0x80000000, 0x140000000) is not inside the VMAs of pid 1200 (0x100000000 is not mapped)',
    ],
    [
      'memslot beyond the IPA space',
      edit(
        'name: guest0\n',
        'name: guest0\n        ipaBits: 32\n',
        edit('gpa: 0x40000000', 'gpa: 0x80000000'),
      ),
      'bad.yaml: processes[0].vms[0].memslots[0].gpa: gpa range [0x80000000, 0x140000000) ends above the 32-bit IPA space (4GiB)',
    ],
    [
      'overlapping memslots',
      edit(
        '- { gpa: 0x40000000, hva: 0x40000000, size: 3GiB }',
        '- { gpa: 0x40000000, hva: 0x40000000, size: 1GiB }\n          - { gpa: 0x60000000, hva: 0x80000000, size: 1GiB }',
      ),
      'bad.yaml: processes[0].vms[0].memslots[1].gpa: gpa range [0x60000000, 0xa0000000) overlaps memslots[0] [0x40000000, 0x80000000)',
    ],
    [
      'vm name not found',
      `${BASE}  - { at: 5, do: destroy-vm, vm: guest9 }\n`,
      'bad.yaml: steps[1].vm: vm "guest9" not found; known vms: guest0',
    ],
    [
      'duplicate vm name',
      edit(
        'steps:',
        '  - pid: 1300\n    comm: other\n    vms: [{ name: guest0, memslots: [] }]\nsteps:',
      ),
      'bad.yaml: processes[1].vms[0].name: vm name "guest0" is already used by processes[0].vms[0]',
    ],
    [
      'unknown pid',
      `${BASE}  - { at: 5, do: exit, pid: 1300 }\n`,
      'bad.yaml: steps[1].pid: pid 1300 is not a process of this scenario (pids: 1200)',
    ],
    [
      'unknown pid of a subscriber',
      `${BASE}subscribers:\n  - { pid: 1201, kind: userptr }\n`,
      'bad.yaml: subscribers[0].pid: pid 1201 is not a process of this scenario (pids: 1200)',
    ],
    [
      'duplicate pid',
      edit('steps:', '  - { pid: 1200, comm: other }\nsteps:'),
      'bad.yaml: processes[1].pid: pid 1200 is already used by processes[0]',
    ],
    [
      'pid of a kernel thread',
      edit('pid: 1200', 'pid: 36'),
      'bad.yaml: processes[0].pid: pid 36 is not allowed: pids below 100 belong to kernel threads in mnsim (oom_reaper is 36); use 1 (init) or 100..4194304',
    ],
    [
      'pid above PID_MAX_LIMIT',
      edit('pid: 1200', 'pid: 4194305'),
      'bad.yaml: processes[0].pid: pid 4194305 is above PID_MAX_LIMIT (4194304)',
    ],
    [
      'misaligned address',
      edit('start: 0x40000000', 'start: 0x40000800'),
      'bad.yaml: processes[0].vmas[0].start: start 0x40000800 is not a multiple of the page size (4KiB)',
    ],
    [
      'misaligned range of a step',
      `${BASE}  - { at: 5, do: munmap, pid: 1200, start: 0x40000000, size: 6000 }\n`,
      'bad.yaml: steps[1].size: size 6000 bytes is not a multiple of the page size (4KiB)',
    ],
    [
      'address misaligned for a 64KiB page size',
      edit(
        'memory: 8GiB',
        'memory: 8GiB\n  pageSize: 64KiB',
        edit('gpa: 0x40000000', 'gpa: 0x40001000'),
      ),
      'bad.yaml: processes[0].vms[0].memslots[0].gpa: gpa 0x40001000 is not a multiple of the page size (64KiB)',
    ],
    [
      'empty range',
      `${BASE}  - { at: 5, do: mprotect, pid: 1200, start: 0x40000000, size: 0 }\n`,
      'bad.yaml: steps[1].size: size must be greater than 0',
    ],
    [
      'VMA above the user address space',
      edit('start: 0x40000000, size: 3GiB }', 'start: 0xffffc0000000, size: 3GiB }'),
      'bad.yaml: processes[0].vmas[0].size: VMA [0xffffc0000000, 0x1000080000000) ends above the 48-bit user address space (0x1000000000000)',
    ],
    [
      'ipaBits out of range',
      edit('name: guest0\n', 'name: guest0\n        ipaBits: 52\n'),
      'bad.yaml: processes[0].vms[0].ipaBits: ipaBits must be between 32 and 48 with 4KiB pages on arm64, got 52',
    ],
    [
      'ipaBits on x86',
      edit(
        'arch: arm64',
        'arch: x86',
        edit('name: guest0\n', 'name: guest0\n        ipaBits: 48\n'),
      ),
      'bad.yaml: processes[0].vms[0].ipaBits: ipaBits applies to arm64 only (host arch is x86); omit it or leave it at 40',
    ],
    [
      'page size the arch does not have',
      edit('arch: arm64', 'arch: x86', edit('memory: 8GiB', 'memory: 8GiB\n  pageSize: 16KiB')),
      'bad.yaml: host.pageSize: page size 16KiB is not available on x86 (allowed: 4KiB)',
    ],
    [
      'over a limit: 65 processes',
      `name: t\nhost: { arch: arm64, memory: 8GiB }\nprocesses:\n${processes(65)}`,
      'bad.yaml: processes: at most 64 processes are supported, got 65',
    ],
    [
      'over a limit: 17TiB of memory',
      edit('memory: 8GiB', 'memory: 17TiB'),
      'bad.yaml: host.memory: host memory above 16TiB is not supported, got 17TiB',
    ],
    [
      'under a limit: 8MiB of memory',
      edit('memory: 8GiB', 'memory: 8MiB'),
      'bad.yaml: host.memory: host memory must be at least 16MiB, got 8MiB',
    ],
    [
      'over a limit: jiffies',
      `${BASE}  - { at: 2147483648, do: oom }\n`,
      'bad.yaml: steps[1].at: must be <= 1073741823, got 2147483648',
    ],
    [
      'not a safe integer',
      `${BASE}seed: 123456789012345678901\n`,
      'bad.yaml: seed: must be a safe integer (below 2^53), got 123456789012345680000',
    ],
    [
      'userptr with a start and no size',
      `${BASE}subscribers:\n  - { pid: 1200, kind: userptr, start: 0x40000000 }\n`,
      'bad.yaml: subscribers[0].start: a userptr subscriber takes start and size together, or neither (the whole address space); size is missing',
    ],
    [
      'a step after the exit of its process',
      `${BASE}  - { at: 5, do: exit, pid: 1200 }\n  - { at: 10, do: allocate, pid: 1200, size: 4KiB }\n`,
      'bad.yaml: steps[2].pid: process 1200 already exited (steps[1] at jiffy 5)',
    ],
    [
      'YAML syntax error',
      edit('- { at: 0, do: fault-in, vm: guest0 }', '- { at: 0, do: fault-in, vm: guest0'),
      'bad.yaml: YAML syntax error at line 16, column 1: Flow map in block collection must be sufficiently indented and end with a }',
    ],
    [
      'duplicate key',
      edit('memory: 8GiB', 'memory: 8GiB\n  memory: 4GiB'),
      'bad.yaml: host.memory: duplicate key "memory" at line 5 (first at line 4)',
    ],
    [
      'duplicate key in a flow mapping',
      `${BASE}  - { at: 5, do: oom, at: 6 }\n`,
      'bad.yaml: steps[1].at: duplicate key "at" at line 16 (first at line 16)',
    ],
    [
      'empty file',
      '# nothing yet\n',
      'bad.yaml: the file is empty: expected a mapping with name, host and processes',
    ],
    // issue 15, finding 8: a newline in comm split a kernel-log line
    [
      'a newline in comm',
      edit('comm: qemu', 'comm: "qemu\\nmnsim: imported run FORGED"'),
      "bad.yaml: processes[0].comm: must be printable ASCII (the kernel keeps the first 15 characters of a task's name); character 5 is U+000A",
    ],
    [
      'an escape sequence in comm',
      edit('comm: qemu', 'comm: "\\e[2Jqemu"'),
      "bad.yaml: processes[0].comm: must be printable ASCII (the kernel keeps the first 15 characters of a task's name); character 1 is U+001B",
    ],
    [
      'a bidi override in comm',
      edit('comm: qemu', 'comm: "qemu\\u202E"'),
      "bad.yaml: processes[0].comm: must be printable ASCII (the kernel keeps the first 15 characters of a task's name); character 5 is U+202E",
    ],
    // issue 15, finding 8: __proto__ was dropped silently where other unknown keys are refused
    ...(['__proto__', 'constructor', 'prototype'] as const).flatMap(
      (key): [string, string, string][] => [
        [
          `${key} at the top level`,
          `${BASE}${key}: { name: x }\n`,
          `bad.yaml: ${key}: unknown key "${key}" (allowed here: name, description, kernel, seed, hz, host, processes, subscribers, steps)`,
        ],
        [
          `${key} in a process`,
          edit('comm: qemu', `comm: qemu\n    ${key}: 1`),
          `bad.yaml: processes[0].${key}: unknown key "${key}" (allowed here: pid, comm, oomScoreAdj, vmas, vms)`,
        ],
        [
          `${key} in a flow mapping`,
          `${BASE}  - { at: 5, do: oom, ${key}: {} }\n`,
          `bad.yaml: steps[1].${key}: unknown key "${key}" (allowed here: at, do)`,
        ],
      ],
    ),
  ];

  it.each(cases)('%s', (_what, text, message) => {
    const err = errorOf(text);
    expect(err.message).toBe(message);
    expect(err.message).not.toContain('\n');
    expect(err.exitCode).toBe(2);
    expect(`bad.yaml: ${err.path === '' ? '' : `${err.path}: `}${err.reason}`).toBe(message);
  });

  it('accepts a step that waits for an mmap lock a hold-mmap-lock holds (the run defers it)', () => {
    const text = `${BASE}  - { at: 5, do: hold-mmap-lock, pid: 1200, for: 10 }
  - { at: 10, do: munmap, pid: 1200, start: 0x40000000, size: 4KiB }
  - { at: 11, do: hold-mmap-lock, pid: 1200, for: 10 }
`;
    expect(parseScenario(text, 'ok.yaml').steps).toHaveLength(4);
  });

  it('reports the first problem in document order, with its line', () => {
    const text = `name: t
steps:
  - { at: -1, do: oom }
host: { arch: arm64, memory: 8GB }
processes: []
`;
    const err = errorOf(text);
    expect(err.message).toBe('bad.yaml: steps[0].at: must be >= 0, got -1');
    expect(err.line).toBe(3);
    // the same problems, the other way round
    const swapped = errorOf(`name: t
host: { arch: arm64, memory: 8GB }
processes: []
steps:
  - { at: -1, do: oom }
`);
    expect(swapped.message).toMatch(/^bad\.yaml: host\.memory: size unit "GB"/);
    expect(swapped.line).toBe(2);
  });

  it('names the first unknown key of a mapping', () => {
    const err = errorOf(edit('arch: arm64', 'swap: 1GiB\n  arch: arm64\n  numa: 2'));
    expect(err.path).toBe('host.swap');
    expect(err.reason).toBe(
      'unknown key "swap" (allowed here: arch, memory, pageSize, cpus, lockdep)',
    );
    expect(err.line).toBe(3);
  });

  it('checks the host before anything measured in its page size', () => {
    const text = edit(
      'memory: 8GiB',
      'memory: 8GiB\n  pageSize: 8KiB',
      edit('start: 0x40000000', 'start: 0x40000800'),
    );
    expect(errorOf(text).message).toBe(
      'bad.yaml: host.pageSize: page size 8KiB is not available on arm64 (allowed: 4KiB, 16KiB, 64KiB)',
    );
  });
});

describe('prototype keys in a scenario given as data (issue 15, finding 8)', () => {
  it.each(['__proto__', 'constructor', 'prototype'])(
    '%s from JSON is an own key, refused like any unknown key',
    (key) => {
      const data: unknown = JSON.parse(
        `{"name":"t","host":{"arch":"x86","memory":"8GiB","${key}":{"arch":"arm64"}},"processes":[{"pid":1200,"comm":"qemu"}]}`,
      );
      expect(() => scenarioFromData(data, 'body.scenario')).toThrow(
        `body.scenario: host.${key}: unknown key "${key}" (allowed here: arch, memory, pageSize, cpus, lockdep)`,
      );
    },
  );

  it('a comm of 16 or more characters is taken: an executable name, of which the model keeps 15 as exec does', () => {
    const s = scenarioFromData(
      {
        name: 't',
        host: { arch: 'x86', memory: '8GiB' },
        processes: [{ pid: 1200, comm: 'qemu-system-x86_64' }],
      },
      'data',
    );
    expect(s.processes[0].comm).toBe('qemu-system-x86_64');
  });
});
