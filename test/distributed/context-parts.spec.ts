/**
 * The run's context parts on the real Redis (wire-context.ts, context-parts.ts): a hop carries
 * the part of its context the run already holds as an id; the part is written with the save of
 * the first record that refers to it, once, and any worker turns the id back into the context.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeContext, newGlobals } from '@mnsim/kernel';
import { ContextParts, RunStateGoneError, RunStateRepository } from '@mnsim/bus';
import { wireContextSchema } from '@mnsim/runtime';
import { type Env, testEnv } from './harness.js';

describe('context parts', () => {
  let env: Env;
  let runs: RunStateRepository;
  beforeAll(async () => {
    env = await testEnv('ctxparts');
    runs = new RunStateRepository(env.bus.redis, env.prefix);
  });
  afterAll(async () => {
    await env?.cleanup();
  });

  const task = { pid: 1000, comm: 'qemu-system-aar', kthread: false };
  const stack = ['el0_svc', 'do_el0_svc', '__arm64_sys_ioctl', 'kvm_vm_ioctl'];
  const ctxAt = (jiffies: number) => {
    const ctx = makeContext(task, stack, jiffies, 3, newGlobals());
    ctx.preemptCount = 1;
    ctx.locks.push({ name: '&kvm->mmu_lock', at: 'kvm_mmu_notifier_invalidate_range_start' });
    return ctx;
  };
  const returned = { status: 'returned' as const, lastMsg: 'i', outbox: [] };

  it('a part goes once with the save that first refers to it, and any worker reads it back', async () => {
    const runId = 'parts-once';
    await runs.putMeta(runId, { scenario: {} as never, kernel: '5.8', seed: 1 });
    const sender = new ContextParts(runs);

    const first = sender.writer(runId);
    const wire = first.wire(ctxAt(5));
    // what changes on every hop travels inline; the rest is a 16-character id
    expect(wireContextSchema.parse(wire)).toEqual({
      jiffies: 5,
      globals: newGlobals(),
      part: expect.stringMatching(/^[A-Za-z0-9_-]{16}$/),
    });
    expect(first.wire(ctxAt(9)).part).toBe(wire.part); // the same part, whatever the jiffies
    expect(first.entries().map(([id]) => id)).toEqual([wire.part]);
    await runs.saveHandler(runId, 'a', returned, null, [], undefined, first.entries());
    first.saved();

    // the run holds it now: this worker's next save does not send it again
    const second = sender.writer(runId);
    expect(second.wire(ctxAt(7)).part).toBe(wire.part);
    expect(second.entries()).toEqual([]);
    // another run does not hold it yet
    expect(sender.writer('parts-other').wire(ctxAt(7)).part).toBe(wire.part);
    const other = sender.writer('parts-other');
    other.wire(ctxAt(1));
    expect(other.entries()).toHaveLength(1);

    // a worker that has never seen it reads it from the run, once
    const receiver = new ContextParts(runs);
    const [whole] = await receiver.resolve(runId, [{ ...wire, jiffies: 11 }]);
    expect(whole).toEqual(ctxAt(11));
    await env.bus.redis.hdel(`${env.prefix}:run:${runId}:parts`, wire.part);
    const [again] = await receiver.resolve(runId, [wire]);
    expect(again).toEqual(ctxAt(5));
  });

  it('a part the run lacks, or whose value does not hash to its id, is an error; a closed run is gone', async () => {
    const runId = 'parts-bad';
    await runs.putMeta(runId, { scenario: {} as never, kernel: '5.8', seed: 1 });
    const w = new ContextParts(runs).writer(runId);
    const wire = w.wire(ctxAt(1));
    await expect(new ContextParts(runs).resolve(runId, [wire])).rejects.toThrow(
      `a message refers to context part ${wire.part}, which it lacks`,
    );
    const [[id, json]] = w.entries();
    const forged = json.replace('"preemptCount":1', '"preemptCount":0');
    await env.bus.redis.hset(`${env.prefix}:run:${runId}:parts`, id, forged);
    await expect(new ContextParts(runs).resolve(runId, [wire])).rejects.toThrow(
      `context part ${id} is corrupt`,
    );
    await runs.close({
      runId,
      status: 'failed',
      events: 0,
      logHash: null,
      violations: 0,
      failureReason: 'test',
    });
    expect(await env.bus.redis.exists(`${env.prefix}:run:${runId}:parts`)).toBe(0);
    await expect(new ContextParts(runs).resolve(runId, [wire])).rejects.toBeInstanceOf(
      RunStateGoneError,
    );
  });
});
