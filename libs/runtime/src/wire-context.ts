/**
 * An execution context as a distributed hop carries it. Most of a context (the task, the
 * preempt and non_block counts, the locks held, the call stack) is the same on many hops of a
 * run: a chain's calls and returns pass it back and forth, and the next step of the same process
 * starts from the same stack. That part travels as a reference to a value the run keeps once
 * (the run's context parts, @mnsim/bus context-parts.ts), as format 2 of the log interns it; what
 * changes on nearly every hop (jiffies, the kernel's globals) travels inline.
 */
import { z } from 'zod';
import type { ExecContext } from '@mnsim/kernel';

/** The part of a context a hop refers to by id: all of it but jiffies and the globals. */
export type ContextPart = Omit<ExecContext, 'jiffies' | 'globals'>;

/** A part's id: the first 96 bits of its canonical JSON's SHA-256, base64url. */
export const CONTEXT_PART_ID = /^[A-Za-z0-9_-]{16}$/;

export const wireContextSchema = z.object({
  jiffies: z.number().int(),
  globals: z.object({ panicked: z.boolean(), prevJiffy: z.number(), taintWarn: z.boolean() }),
  part: z.string().regex(CONTEXT_PART_ID, 'context part ids are 16 base64url characters'),
});

export type WireContext = z.infer<typeof wireContextSchema>;

/** The part of `ctx` a hop refers to, with its keys in code-point order (canonical as built). */
export function contextPart(ctx: ExecContext): ContextPart {
  return {
    cpu: ctx.cpu,
    irqsDisabled: ctx.irqsDisabled,
    locks: ctx.locks.map((l) => ({ at: l.at, name: l.name })),
    nonBlockCount: ctx.nonBlockCount,
    preemptCount: ctx.preemptCount,
    preemptDisableIp: ctx.preemptDisableIp,
    stack: [...ctx.stack],
    task: { comm: ctx.task.comm, kthread: ctx.task.kthread, pid: ctx.task.pid },
  };
}

/**
 * A whole context again. It shares the part's arrays and objects, which a worker keeps for every
 * message that refers to them: `execute` copies a context before a handler changes it.
 */
export function joinContext(wire: WireContext, part: ContextPart): ExecContext {
  return {
    cpu: part.cpu,
    globals: wire.globals,
    irqsDisabled: part.irqsDisabled,
    jiffies: wire.jiffies,
    locks: part.locks,
    nonBlockCount: part.nonBlockCount,
    preemptCount: part.preemptCount,
    preemptDisableIp: part.preemptDisableIp,
    stack: part.stack,
    task: part.task,
  };
}

export const contextPartSchema = z.object({
  cpu: z.number().int().nonnegative(),
  irqsDisabled: z.boolean(),
  locks: z.array(z.object({ at: z.string(), name: z.string() })),
  nonBlockCount: z.number().int(),
  preemptCount: z.number().int(),
  preemptDisableIp: z.string().nullable(),
  stack: z.array(z.string()),
  task: z.object({ comm: z.string(), kthread: z.boolean(), pid: z.number().int() }),
});
