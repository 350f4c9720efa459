/**
 * Hostile inputs for the property tests of mnsim's edges (the HTTP API, the CLI), as fast-check
 * arbitraries: odd strings and numbers, values nested deeper than any parser's stack, and scenario
 * documents taken from the built-ins and from `generateScenario`, then mutated at and past every
 * limit of libs/scenarios (LIMITS), with wrong types, prototype keys and unicode where names go.
 *
 * A document may hold `Deep` values: nesting too deep for JSON.stringify (or this process's stack),
 * written out as text by `toJsonText` and `toYamlText` instead.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { LIMITS, generateScenario } from '@mnsim/scenarios';

const ROOT = join(import.meta.dirname, '..');
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;

/** A value nested `depth` levels deep: `[[[…0…]]]` or `{"a":{"a":…0…}}`. */
export class Deep {
  constructor(
    readonly depth: number,
    readonly kind: 'array' | 'object',
  ) {}

  toJson(): string {
    return this.kind === 'array'
      ? `${'['.repeat(this.depth)}0${']'.repeat(this.depth)}`
      : `${'{"a":'.repeat(this.depth)}0${'}'.repeat(this.depth)}`;
  }

  /** YAML flow style (YAML's flow collections are JSON's, keys may be plain) */
  toYaml(): string {
    return this.kind === 'array'
      ? `${'['.repeat(this.depth)}0${']'.repeat(this.depth)}`
      : `${'{a: '.repeat(this.depth)}0${'}'.repeat(this.depth)}`;
  }

  toString(): string {
    return `Deep(${this.depth} ${this.kind})`;
  }
}

/** A JSON-like document that may hold Deep values. */
export type Doc = null | boolean | number | string | Deep | Doc[] | { [key: string]: Doc };

/** Replaces each Deep by a placeholder string, returning the placeholders with their nesting. */
function withPlaceholders(doc: Doc, deeps: Deep[]): Doc {
  if (doc instanceof Deep) {
    deeps.push(doc);
    return `@@deep${deeps.length - 1}@@`;
  }
  if (Array.isArray(doc)) return doc.map((d) => withPlaceholders(d, deeps));
  if (doc !== null && typeof doc === 'object') {
    const out: { [key: string]: Doc } = {};
    for (const [k, v] of Object.entries(doc)) {
      // defineProperty: a "__proto__" key stays a key, as JSON.parse would make it
      Object.defineProperty(out, k, {
        value: withPlaceholders(v, deeps),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return doc;
}

/** The document as JSON text (non-finite numbers become null, as JSON.stringify makes them). */
export function toJsonText(doc: Doc, indent?: number): string {
  const deeps: Deep[] = [];
  const text = JSON.stringify(withPlaceholders(doc, deeps), null, indent);
  return text.replace(/"@@deep(\d+)@@"/g, (_, i: string) => deeps[Number(i)].toJson());
}

/** The document as YAML text, block style (NaN and ±Infinity as .nan and ±.inf). */
export function toYamlText(doc: Doc): string {
  const deeps: Deep[] = [];
  const text = stringifyYaml(withPlaceholders(doc, deeps), { lineWidth: 0 });
  return text.replace(/@@deep(\d+)@@/g, (_, i: string) => deeps[Number(i)].toYaml());
}

// ---------------------------------------------------------------------------------------------
// strings and numbers

const CONTROL_AND_ODD = [
  '',
  ' ',
  '\t',
  '\n',
  '\r\n',
  '\0',
  '\x07',
  '\x1b[2J\x1b[H',
  '\x1b]0;pwned\x07',
  '\x1b[31mred\x1b[0m',
  '\x7f',
  '\x85',
  '\x9b31m',
  '\u061c',
  '\u200e',
  '\u202e',
  '\u2028',
  '\u2029',
  '\u2066',
  '\ufeff',
  '\ufffd',
  '\ud800',
  '\udfff',
  '\ud83d',
  '🧨',
  '👩‍👩‍👧‍👦',
  'é',
  'e\u0301',
  'ﬃ',
  'İ',
  '𝕒𝕣𝕞𝟞𝟜',
  'ａｒｍ６４',
  'qemu\nBUG: sleeping function called from invalid context',
  'name\u0000hidden',
];

const MEANINGFUL = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '__defineGetter__',
  'valueOf',
  'NaN',
  'Infinity',
  '-Infinity',
  'null',
  'undefined',
  'true',
  'false',
  '0',
  '-0',
  '-1',
  '1e309',
  '1e-400',
  '0x',
  '0x1g',
  '0x-1',
  '0xFFFFFFFFFFFFFFFFFFFFFFFF',
  '0x1000000000000',
  '0x0',
  '9007199254740993',
  '3GiB',
  '3 GiB',
  '3gib',
  '-3GiB',
  '1.5GiB',
  '16TiB',
  '17TiB',
  '16MiB',
  '15MiB',
  '0.5KiB',
  '1e3KiB',
  '4KiB',
  '64KiB',
  '٣GiB',
  '４０９６',
  '1_000',
  '0b101',
  '0o7',
  'arm64',
  'ARM64',
  'arm64 ',
  'x86',
  'mips',
  'powerpc-e500',
  '5.8',
  '5.8+fix',
  '5.8+flags',
  '5.8+FIX',
  '5.80',
  'oom-reap-arm64',
  'oom',
  'fault-in',
  'eagain',
  'userptr',
  'interval',
  '../../../etc/passwd',
  '/etc/passwd',
  '/dev/zero',
  'C:\\Windows\\win.ini',
  '%00',
  '%2e%2e%2f',
  '${jndi:ldap://127.0.0.1/x}',
  '{{7*7}}',
  "'; DROP TABLE runs; --",
  '" OR 1=1 --',
  '*',
  '&a',
  '*a',
  '!!js/function',
  '!!binary',
  '<<',
  '~',
  '? x',
  '- x',
  '|',
  '>',
  '#',
  ': ',
  '---',
  '...',
  '%YAML 1.1',
];

/** Strings of the length of each text limit, one below and one past it, in ASCII and not. */
const AT_LENGTH_LIMITS = [
  LIMITS.maxNameLength,
  LIMITS.maxCommLength,
  LIMITS.maxDescriptionLength,
  15,
  16,
  100,
  1024,
].flatMap((n) => [n - 1, n, n + 1]);

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...CONTROL_AND_ODD, ...MEANINGFUL) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom(...AT_LENGTH_LIMITS), fc.constantFrom('a', 'é', '🧨', '-', '\x1b'))
      .map(([n, c]) => c.repeat(n)),
  },
  { weight: 1, arbitrary: fc.constantFrom(65_536, 200_000).map((n) => 'x'.repeat(n)) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  {
    weight: 1,
    // lone surrogates, which UTF-8 cannot hold
    arbitrary: fc
      .array(fc.integer({ min: 0xd800, max: 0xdfff }), { minLength: 1, maxLength: 4 })
      .map((cs) => String.fromCharCode(...cs)),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom(...MEANINGFUL), fc.constantFrom(...CONTROL_AND_ODD))
      .map(([a, b]) => a + b),
  },
);

/** Numbers at and past every numeric limit, and the ones parsers get wrong. */
const LIMIT_NUMBERS = [
  ...Object.values(LIMITS).flatMap((n) => [n - 1, n, n + 1, -n, n * 2]),
  0,
  -0,
  -1,
  0.5,
  1.5,
  4096.000001,
  2 ** 31,
  2 ** 32,
  2 ** 48 - 4096,
  2 ** 53,
  2 ** 53 + 2,
  Number.MAX_SAFE_INTEGER,
  -Number.MAX_SAFE_INTEGER,
  1e21,
  1e300,
  1.7976931348623157e308,
  -1.7976931348623157e308,
  5e-324,
  16 * TiB,
  16 * TiB + 1,
  16 * MiB - 1,
  3 * GiB,
  4 * KiB,
  16 * KiB,
  64 * KiB,
  8 * KiB,
  NaN,
  Infinity,
  -Infinity,
];

export const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...LIMIT_NUMBERS) },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.maxSafeInteger() },
  { weight: 1, arbitrary: fc.double() },
);

/** Nesting deep enough to pass a recursive walker's stack (a few thousand levels and beyond). */
export const deepValue: fc.Arbitrary<Deep> = fc
  .tuple(
    fc.constantFrom(10, 100, 1000, 2000, 3000, 3500, 5000, 10_000, 50_000),
    fc.constantFrom<'array' | 'object'>('array', 'object'),
  )
  .map(([depth, kind]) => new Deep(depth, kind));

const smallJson: fc.Arbitrary<Doc> = fc
  .jsonValue({ maxDepth: 3, depthSize: 'small' })
  .map((v) => v as Doc);

export const hostileValue: fc.Arbitrary<Doc> = fc.oneof(
  { weight: 4, arbitrary: hostileString },
  { weight: 4, arbitrary: hostileNumber },
  { weight: 1, arbitrary: fc.constantFrom<Doc>(true, false, null, [], {}, [null], { '': null }) },
  { weight: 2, arbitrary: smallJson },
  { weight: 1, arbitrary: deepValue },
);

/** Keys of an object (also inside a scenario): prototype machinery, unicode, near misses. */
export const hostileKey: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '__proto__',
    'constructor',
    'prototype',
    'toString',
    '',
    ' name',
    'Name',
    'name\u0000',
    'nаme', // a Cyrillic "а"
    'kernel ',
    'ipabits',
    'do',
    'at',
    '<<',
    '$ref',
    '\u202ename',
  ),
  hostileString.filter((s) => s.length < 200),
);

// ---------------------------------------------------------------------------------------------
// scenario documents

/** The built-in scenarios as plain data, as a client would send them. */
export const BUILTIN_SCENARIOS: { name: string; doc: Doc }[] = readdirSync(join(ROOT, 'scenarios'))
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((f) => ({
    name: f.replace(/\.yaml$/, ''),
    doc: parseYaml(readFileSync(join(ROOT, 'scenarios', f), 'utf8')) as Doc,
  }));

/** A valid scenario to start from: a built-in, or one of `mnsim fuzz`'s generated ones. */
export const baseScenario: fc.Arbitrary<Doc> = fc.oneof(
  fc.constantFrom(...BUILTIN_SCENARIOS.map((s) => s.doc)),
  fc
    .tuple(fc.nat(1000), fc.nat(1000))
    .map(([seed, index]) => parseYaml(generateScenario(seed, index).yaml) as Doc),
);

type Container = Doc[] | { [key: string]: Doc };

interface Place {
  parent: Container;
  key: string | number;
}

function isContainer(v: Doc): v is Container {
  return v !== null && typeof v === 'object' && !(v instanceof Deep);
}

/** Every place in the document that holds a value (none inside Deep values). */
function places(doc: Doc): Place[] {
  const out: Place[] = [];
  const stack: Container[] = isContainer(doc) ? [doc] : [];
  while (stack.length > 0) {
    const c = stack.pop()!;
    const keys: (string | number)[] = Array.isArray(c) ? c.map((_, i) => i) : Object.keys(c);
    for (const key of keys) {
      const v = (c as Record<string | number, Doc>)[key];
      out.push({ parent: c, key });
      if (isContainer(v)) stack.push(v);
    }
  }
  return out;
}

/** A copy of the document; Deep values, which never change, are shared. */
export function cloneDoc(doc: Doc): Doc {
  if (Array.isArray(doc)) return doc.map(cloneDoc);
  if (!isContainer(doc)) return doc;
  const out: { [key: string]: Doc } = {};
  for (const [k, v] of Object.entries(doc)) set({ parent: out, key: k }, cloneDoc(v));
  return out;
}

function get(p: Place): Doc {
  return (p.parent as Record<string | number, Doc>)[p.key];
}

function set(p: Place, value: Doc): void {
  Object.defineProperty(p.parent, p.key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/** A field (its path, `*` for any index: `processes.*.pid`) and values for it. */
type Limit = { path: string; values: Doc[] };

const LONG = (n: number, c = 'a'): string => c.repeat(n);

/**
 * Each scalar field with values at its limit and one past it, in every form the schema reads
 * (a size as a number and as text); `*` is any index.
 */
const FIELD_LIMITS: Limit[] = [
  { path: 'name', values: [LONG(64), LONG(65), 'a-', '-a', 'A', 'a_b', 'é'] },
  { path: 'description', values: [LONG(4096), LONG(4097), LONG(4097, '\n')] },
  { path: 'kernel', values: [5.8, '5.8', 5.80001, '5.8+fix', 'fix'] },
  { path: 'seed', values: [0, -1, Number.MAX_SAFE_INTEGER, 2 ** 53, 1.5, '1'] },
  { path: 'hz', values: [100, 250, 300, 1000, 999, 0, '250'] },
  { path: 'host.arch', values: ['arm64', 'x86', 'mips', 'powerpc-book3s-hv', 'riscv', ''] },
  {
    path: 'host.memory',
    values: [
      LIMITS.minMemory,
      LIMITS.minMemory - 1,
      LIMITS.maxMemory,
      LIMITS.maxMemory + 1,
      '16MiB',
      '16TiB',
      '17TiB',
      '0',
      -1,
    ],
  },
  {
    path: 'host.pageSize',
    values: [4096, 16384, 65536, 8192, 0, '64KiB', '2MiB', 2 ** 48],
  },
  { path: 'host.cpus', values: [1, 0, 256, 257, -1, 1.5] },
  { path: 'host.lockdep', values: [true, 'yes', 1] },
  { path: 'processes.*.pid', values: [100, 99, 36, 1, 0, -1, 4_194_304, 4_194_305, 2 ** 31] },
  { path: 'processes.*.comm', values: [LONG(64), LONG(65), LONG(15), LONG(16), '', '\x1b[2J'] },
  { path: 'processes.*.oomScoreAdj', values: [-1000, -1001, 1000, 1001, 0.5] },
  {
    path: 'processes.*.vmas.*.start',
    values: [0, 4095, 2 ** 48 - 4096, 2 ** 48, 2 ** 48 + 4096, '0x1000000000000', -4096],
  },
  {
    path: 'processes.*.vmas.*.size',
    values: [0, 4096, 4095, 2 ** 48, 2 ** 48 + 4096, '256TiB', '1EiB'],
  },
  { path: 'processes.*.vms.*.name', values: [LONG(64), LONG(65), 'Guest0', '0', '-'] },
  { path: 'processes.*.vms.*.ipaBits', values: [31, 32, 36, 40, 48, 49, 52, 53, 0, 64] },
  {
    path: 'processes.*.vms.*.memslots.*.gpa',
    values: [0, 2 ** 40, 2 ** 48, 2 ** 52, 2 ** 53, 4095],
  },
  { path: 'processes.*.vms.*.memslots.*.size', values: [0, 4096, 2 ** 40, 2 ** 48 + 4096] },
  { path: 'steps.*.at', values: [0, LIMITS.maxJiffies, LIMITS.maxJiffies + 1, -1, 0.5] },
  { path: 'steps.*.for', values: [0, 1, LIMITS.maxJiffies, LIMITS.maxJiffies + 1] },
  {
    path: 'steps.*.do',
    values: ['oom', 'exit', 'fault-in', 'munmap', 'destroy-vm', 'reboot', 'OOM', ''],
  },
  { path: 'subscribers.*.kind', values: ['userptr', 'interval', 'odp', null] },
  { path: 'subscribers.*.nonBlockable', values: ['eagain', 'ok', 'EAGAIN', true] },
];

/** Each list with its limit: at it (valid if the rest is) and one past it. */
const LIST_LIMITS: { path: string; max: number }[] = [
  { path: 'processes', max: LIMITS.maxProcesses },
  { path: 'processes.*.vmas', max: LIMITS.maxVmasPerProcess },
  { path: 'processes.*.vms', max: LIMITS.maxVmsPerProcess },
  { path: 'processes.*.vms.*.memslots', max: LIMITS.maxMemslotsPerVm },
  { path: 'subscribers', max: LIMITS.maxSubscribers },
  { path: 'steps', max: 5000 },
];

/** The places whose path matches the pattern (`*`: any index). */
function placesMatching(doc: Doc, pattern: string): Place[] {
  let current: Place[] = [{ parent: [doc], key: 0 }];
  for (const part of pattern.split('.')) {
    const next: Place[] = [];
    for (const p of current) {
      const v = get(p);
      if (!isContainer(v)) continue;
      if (part === '*') {
        if (Array.isArray(v)) v.forEach((_, i) => next.push({ parent: v, key: i }));
      } else if (!Array.isArray(v) && Object.hasOwn(v, part)) {
        next.push({ parent: v, key: part });
      }
    }
    current = next;
  }
  return current;
}

/** One change to a document; `at` chooses among the places it applies to (modulo their count). */
export type Mutation =
  | { op: 'set'; at: number; value: Doc }
  | { op: 'delete'; at: number }
  | { op: 'addKey'; at: number; key: string; value: Doc }
  | { op: 'wrap'; at: number; asArray: boolean }
  | { op: 'field'; which: number; at: number; value: number }
  | { op: 'list'; which: number; at: number; past: boolean }
  | { op: 'duplicate'; at: number };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: hostileValue }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), at: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('addKey' as const),
      at: fc.nat(),
      key: hostileKey,
      value: hostileValue,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('wrap' as const), at: fc.nat(), asArray: fc.boolean() }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('field' as const),
      which: fc.nat(FIELD_LIMITS.length - 1),
      at: fc.nat(),
      value: fc.nat(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('list' as const),
      which: fc.nat(LIST_LIMITS.length - 1),
      at: fc.nat(),
      past: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('duplicate' as const), at: fc.nat() }) },
);

/** The document with the mutations applied in turn (the original is not changed). */
export function mutate(base: Doc, mutations: readonly Mutation[]): Doc {
  // a one-element array holds the root, so that the root itself can be replaced or wrapped
  const root: Doc[] = [cloneDoc(base)];
  for (const m of mutations) {
    const doc = root[0];
    switch (m.op) {
      case 'set':
      case 'delete':
      case 'wrap':
      case 'duplicate': {
        const all = [{ parent: root, key: 0 } as Place, ...places(doc)];
        const p = all[m.at % all.length];
        if (m.op === 'set') set(p, m.value);
        else if (m.op === 'wrap') set(p, m.asArray ? [get(p)] : { value: get(p) });
        else if (m.op === 'duplicate') {
          if (Array.isArray(p.parent) && p.parent !== root) {
            p.parent.splice(Number(p.key), 0, cloneDoc(get(p)));
          }
        } else if (p.parent === root) root[0] = null;
        else if (Array.isArray(p.parent)) p.parent.splice(Number(p.key), 1);
        else delete p.parent[p.key];
        break;
      }
      case 'addKey': {
        const objects = [
          ...(isContainer(doc) && !Array.isArray(doc) ? [doc] : []),
          ...places(doc)
            .map(get)
            .filter((v): v is { [key: string]: Doc } => isContainer(v) && !Array.isArray(v)),
        ];
        if (objects.length === 0) break;
        set({ parent: objects[m.at % objects.length], key: m.key }, m.value);
        break;
      }
      case 'field': {
        const limit = FIELD_LIMITS[m.which];
        const ps = placesMatching(doc, limit.path);
        const value = limit.values[m.value % limit.values.length];
        if (ps.length > 0) set(ps[m.at % ps.length], value);
        else {
          // a field the document leaves out: set it in the first object that could hold it
          const dot = limit.path.lastIndexOf('.');
          const owners =
            dot === -1 ? [doc] : placesMatching(doc, limit.path.slice(0, dot)).map(get);
          const owner = owners.find((o) => isContainer(o) && !Array.isArray(o));
          if (owner !== undefined) {
            set({ parent: owner as Container, key: limit.path.slice(dot + 1) }, value);
          }
        }
        break;
      }
      case 'list': {
        const limit = LIST_LIMITS[m.which];
        const ps = placesMatching(doc, limit.path).filter((p) => Array.isArray(get(p)));
        if (ps.length === 0) break;
        const list = get(ps[m.at % ps.length]) as Doc[];
        if (list.length === 0) break;
        const want = limit.max + (m.past ? 1 : 0);
        const last = list[list.length - 1];
        while (list.length < want) list.push(cloneDoc(last));
        break;
      }
    }
  }
  return root[0];
}

/** A scenario document: a valid base, then up to four mutations (none: still valid). */
export const hostileScenario: fc.Arbitrary<Doc> = fc
  .tuple(baseScenario, fc.array(mutation, { maxLength: 4 }))
  .map(([base, ms]) => mutate(base, ms));
