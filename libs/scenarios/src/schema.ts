/**
 * The shape of a scenario file (zod 4): every key, its type, its default. Cross-field rules (page
 * alignment, overlaps, references between processes, vms, subscribers and steps) are in semantics.ts
 * and run only on a document that has the right shape.
 */
import { z } from 'zod';
import { firstNonPrintableAscii } from '@mnsim/events';
import { ARCHES, KERNEL_VARIANTS } from '@mnsim/kernel';
import { MISSING_KEY } from './errors.js';
import { HZ_VALUES, KiB, LIMITS } from './limits.js';
import { parseAddress, parseSize } from './units.js';

type Ctx = z.core.$RefinementCtx<unknown>;

function bytes(parse: (v: unknown) => number) {
  return (v: unknown, ctx: Ctx): number => {
    if (v === undefined) {
      ctx.addIssue({ code: 'custom', message: MISSING_KEY });
      return z.NEVER;
    }
    try {
      return parse(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  };
}

/** A required size in bytes ("3GiB", 4096). */
const size = () => z.unknown().transform(bytes(parseSize));
/** A required address in bytes (0x40000000). */
const address = () => z.unknown().transform(bytes(parseAddress));
/** An optional size or address: absent stays absent. */
const optionalSize = () => z.unknown().optional().transform(optionalBytes(parseSize));
const optionalAddress = () => z.unknown().optional().transform(optionalBytes(parseAddress));

function optionalBytes(parse: (v: unknown) => number) {
  return (v: unknown, ctx: Ctx): number | undefined =>
    v === undefined ? undefined : bytes(parse)(v, ctx);
}

/** A mapping with exactly these keys; an unknown key is named, with the keys allowed there. */
function mapping<T extends z.ZodRawShape>(shape: T) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (iss) =>
      iss.code === 'unrecognized_keys'
        ? `unknown key "${String(iss.keys[0])}" (allowed here: ${allowed})`
        : undefined,
  });
}

function atMost(max: number, what: string) {
  return {
    error: (iss: { input?: unknown }) =>
      `at most ${max} ${what} are supported, got ${Array.isArray(iss.input) ? iss.input.length : 'more'}`,
  };
}

const jiffies = z.int().min(0).max(LIMITS.maxJiffies);
const pid = z.int();
const nonBlockable = z.enum(['eagain', 'ok']).default('eagain');

const vma = mapping({
  start: address(),
  size: size(),
  anon: z.boolean().default(true),
  shared: z.boolean().default(false),
  locked: z.boolean().default(false),
  hugetlb: z.boolean().default(false),
  pfnmap: z.boolean().default(false),
});

const memslot = mapping({ gpa: address(), hva: address(), size: size() });

const vm = mapping({
  name: z
    .string()
    .max(LIMITS.maxNameLength)
    .regex(/^[a-z0-9][a-z0-9-]*$/, {
      error: 'must match [a-z0-9][a-z0-9-]* (lower-case letters, digits and dashes)',
    }),
  ipaBits: z.int().default(LIMITS.defaultIpaBits),
  memslots: z
    .array(memslot)
    .max(LIMITS.maxMemslotsPerVm, atMost(LIMITS.maxMemslotsPerVm, 'memslots per vm')),
});

/**
 * task->comm, as the executable's name: the kernel keeps its first TASK_COMM_LEN - 1 = 15
 * characters (__set_task_comm), so a longer name is taken and truncated as exec would. Only
 * printable ASCII: a control character would reach the kernel log (`Killed process 1200 (…)`),
 * and a newline split its line.
 */
const comm = z
  .string()
  .min(1)
  .max(LIMITS.maxCommLength)
  .superRefine((value, ctx) => {
    const at = firstNonPrintableAscii(value);
    if (at === -1) return;
    const c = value.codePointAt(at) ?? 0;
    ctx.addIssue({
      code: 'custom',
      message: `must be printable ASCII (the kernel keeps the first 15 characters of a task's name); character ${at + 1} is U+${c.toString(16).toUpperCase().padStart(4, '0')}`,
    });
  });

const processSpec = mapping({
  pid,
  comm,
  oomScoreAdj: z.int().min(LIMITS.minOomScoreAdj).max(LIMITS.maxOomScoreAdj).default(0),
  vmas: z
    .array(vma)
    .max(LIMITS.maxVmasPerProcess, atMost(LIMITS.maxVmasPerProcess, 'VMAs per process'))
    .default(() => []),
  vms: z
    .array(vm)
    .max(LIMITS.maxVmsPerProcess, atMost(LIMITS.maxVmsPerProcess, 'vms per process'))
    .default(() => []),
});

const subscriber = z.discriminatedUnion('kind', [
  mapping({
    pid,
    kind: z.literal('userptr'),
    nonBlockable,
    start: optionalAddress(),
    size: optionalSize(),
  }),
  mapping({ pid, kind: z.literal('interval'), start: address(), size: size(), nonBlockable }),
]);

const range = { pid, start: address(), size: size() };

const step = z.discriminatedUnion('do', [
  mapping({ at: jiffies, do: z.literal('fault-in'), vm: z.string() }),
  mapping({ at: jiffies, do: z.literal('vcpu-fault'), vm: z.string(), gpa: address() }),
  mapping({ at: jiffies, do: z.literal('allocate'), pid, size: size() }),
  mapping({
    at: jiffies,
    do: z.literal('hold-mmap-lock'),
    pid,
    for: z.int().min(1).max(LIMITS.maxJiffies),
  }),
  mapping({ at: jiffies, do: z.literal('munmap'), ...range }),
  mapping({ at: jiffies, do: z.literal('migrate'), ...range }),
  mapping({ at: jiffies, do: z.literal('mprotect'), ...range }),
  mapping({ at: jiffies, do: z.literal('destroy-vm'), vm: z.string() }),
  mapping({ at: jiffies, do: z.literal('exit'), pid }),
  mapping({ at: jiffies, do: z.literal('oom') }),
]);

export const scenarioSchema = mapping({
  name: z
    .string()
    .max(LIMITS.maxNameLength)
    .regex(/^[a-z0-9-]+$/, {
      error: 'must match [a-z0-9-]+ (lower-case letters, digits and dashes)',
    }),
  description: z.string().max(LIMITS.maxDescriptionLength).default(''),
  // YAML reads an unquoted 5.8 as a number
  kernel: z
    .preprocess((v) => (v === 5.8 ? '5.8' : v), z.enum(KERNEL_VARIANTS))
    .default(KERNEL_VARIANTS[0]),
  seed: z.int().min(0).default(1),
  hz: z.literal(HZ_VALUES).default(250),
  host: mapping({
    arch: z.enum(ARCHES),
    memory: size(),
    pageSize: size().default(4 * KiB),
    cpus: z.int().min(LIMITS.minCpus).max(LIMITS.maxCpus).default(4),
    lockdep: z.boolean().default(false),
  }),
  processes: z
    .array(processSpec)
    .max(LIMITS.maxProcesses, atMost(LIMITS.maxProcesses, 'processes')),
  subscribers: z
    .array(subscriber)
    .max(LIMITS.maxSubscribers, atMost(LIMITS.maxSubscribers, 'subscribers'))
    .default(() => []),
  steps: z
    .array(step)
    .max(LIMITS.maxSteps, atMost(LIMITS.maxSteps, 'steps'))
    .default(() => []),
});

export type ParsedScenario = z.output<typeof scenarioSchema>;
