import { describe, expect, it } from 'vitest';
import { KERNEL_VARIANTS, type ExecContext } from '@mnsim/kernel';
import { simulate } from '@mnsim/engine';
import { generateScenario, listBuiltinScenarios, resolveScenario } from '@mnsim/scenarios';
import { CanonicalEncodingError } from './canonical.js';
import { reference } from './canonical.reference.js';
import { EventEncoder, encodePayload } from './payload-encoding.js';
import type { CallPayload, ReturnPayload } from './payloads.js';

function context(over: Partial<ExecContext> = {}): ExecContext {
  return {
    cpu: 0,
    globals: { panicked: false, prevJiffy: 0, taintWarn: false },
    irqsDisabled: false,
    jiffies: 10,
    locks: [],
    nonBlockCount: 0,
    preemptCount: 0,
    preemptDisableIp: null,
    stack: ['ret_from_fork', 'kthread', 'oom_reaper'],
    task: { comm: 'oom_reaper', kthread: true, pid: 36 },
    ...over,
  };
}

function call(ctx: ExecContext, extra: Partial<CallPayload> = {}): CallPayload {
  return {
    args: { vm: 'guest0' },
    ctx,
    fn: 'kvm_mmu_notifier_invalidate_range_start',
    from: 'mm',
    to: 'kvm:arm64',
    ...extra,
  };
}

describe('encodePayload', () => {
  it('gives the definition for every event of every built-in run on every variant', () => {
    let checked = 0;
    for (const { name } of listBuiltinScenarios()) {
      for (const kernel of KERNEL_VARIANTS) {
        simulate(resolveScenario(name).scenario, {
          kernel,
          onEvent: (e) => {
            expect(encodePayload(e.type, e.payload)).toBe(reference(e.payload));
            checked++;
          },
        });
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });

  it('gives the definition for every event of generated runs (every arch, step mix and variant)', () => {
    let checked = 0;
    for (let i = 0; i < 60; i++) {
      const { scenario } = generateScenario(11, i, { steps: 40 });
      simulate(scenario, {
        onEvent: (e) => {
          const encoded = encodePayload(e.type, e.payload);
          if (encoded !== reference(e.payload)) {
            expect.fail(`${scenario.name} seq ${e.seq}: ${encoded} != ${reference(e.payload)}`);
          }
          checked++;
        },
      });
    }
    expect(checked).toBeGreaterThan(5000);
  });

  it('follows a context as its stack, locks, task and globals change between events', () => {
    const enc = new EventEncoder();
    const ctx = context();
    const check = (): void => {
      const p = call(ctx);
      expect(enc.payload('call', p)).toBe(reference(p));
    };
    check();
    ctx.stack.push('oom_reap_task');
    check();
    ctx.stack.pop();
    ctx.stack.pop();
    check();
    ctx.stack.length = 0;
    check();
    ctx.stack.push('a', 'b', 'c', 'd');
    check();
    ctx.stack[1] = 'x'; // same length, a frame in the middle differs
    check();
    ctx.locks.push({ at: 'kvm_mmu_notifier_invalidate_range_start', name: '&kvm->srcu' });
    check();
    ctx.locks[0].at = 'elsewhere'; // the same object, mutated: never trusted by identity
    check();
    ctx.locks.push({ at: 'x', name: 'y' });
    check();
    ctx.task.pid = 37;
    check();
    ctx.task = { comm: 'with "quotes" \\ and é\n', kthread: false, pid: 37 };
    check();
    ctx.globals.prevJiffy = 250;
    check();
    ctx.globals.taintWarn = true;
    check();
    ctx.preemptCount = 1;
    ctx.preemptDisableIp = 'unmap_stage2_range';
    check();
    check(); // the same context again
    ctx.jiffies++;
    check();
    ctx.nonBlockCount = 1;
    check();
    ctx.irqsDisabled = true;
    check();
    ctx.cpu = 1;
    check();
    // a stack that is not all names, then its prefix: nothing stale comes back
    (ctx.stack as unknown[]).push(5);
    check();
    ctx.stack.pop();
    check();
    ctx.stack.length = 0;
    (ctx.stack as unknown[]).push(5);
    check();
    ctx.stack.length = 0;
    check();
  });

  it('contexts differing only in their stack, met in turn, each keep their own encoding', () => {
    const enc = new EventEncoder();
    const a = context({ stack: ['a'] });
    const b = context({ stack: ['b'] });
    for (const ctx of [a, b, a, b]) {
      const p = call(ctx);
      expect(enc.payload('call', p)).toBe(reference(p));
    }
  });

  it('more distinct contexts than it keeps, cycled through twice, are each encoded right', () => {
    const enc = new EventEncoder();
    const contexts = Array.from({ length: 20 }, (_, i) =>
      context({
        stack: ['ret_from_fork', `frame${i % 11}`],
        locks: i % 3 === 0 ? [] : [{ at: `f${i % 13}`, name: 'srcu' }],
        task: { comm: `t${i % 9}`, kthread: i % 2 === 0, pid: i % 9 },
        jiffies: i % 7,
      }),
    );
    for (let round = 0; round < 2; round++) {
      for (const ctx of contexts) {
        const p = call(ctx);
        expect(enc.payload('call', p)).toBe(reference(p));
      }
    }
  });

  it('a return between two calls changing the globals does not bring back a stale context', () => {
    const enc = new EventEncoder();
    const ctx = context();
    const first = call(ctx);
    expect(enc.payload('call', first)).toBe(reference(first));
    ctx.globals = { panicked: false, prevJiffy: 99, taintWarn: true };
    const ret = { fn: 'f', from: 'kvm:arm64', globals: ctx.globals, ret: 0, to: 'mm' };
    expect(enc.payload('return', ret as unknown as ReturnPayload)).toBe(reference(ret));
    const second = call(ctx);
    expect(enc.payload('call', second)).toBe(reference(second));
  });

  it('writes optional members in code-point order, whichever are present', () => {
    const ctx = context();
    const attachments = {
      armed: [{ args: { pid: 1 }, at: 35, fn: 'oom_reap_task', id: 't1', to: 'oom' }],
      log: [{ jiffies: 10, level: 3 as const, text: 'BUG: "x"\n' }],
      trace: [
        { detail: { b: 1, a: 2 }, what: 'unsorted' },
        { detail: { end: 5, list: [1, 2], start: -0 }, what: 'nested' },
        { detail: { a: null, b: 'é', c: true, d: undefined }, what: 'scalars' },
      ],
    };
    const payloads: Array<[string, object]> = [
      ['call', call(ctx, attachments as unknown as Partial<CallPayload>)],
      ['call', call(ctx, { args: undefined })],
      [
        'step',
        {
          args: { b: 1, a: [] },
          ctx,
          fn: 'mprotect',
          step: 3,
          to: 'mm',
          ...attachments,
        },
      ],
      [
        'timer',
        {
          args: null,
          ctx,
          fn: 'oom_reap_task',
          step: null,
          to: 'oom',
        },
      ],
      [
        'return',
        {
          fn: 'f',
          from: 'mm',
          globals: ctx.globals,
          ret: 0,
          to: 'orchestrator',
        },
      ],
      [
        'return',
        {
          fn: 'f',
          from: 'mm',
          globals: ctx.globals,
          ret: { z: 1, a: 2 },
          to: 'mm',
          ...attachments,
        },
      ],
      [
        'return',
        {
          fn: 'f',
          from: 'mm',
          globals: ctx.globals,
          ret: undefined,
          to: 'mm',
        },
      ],
      ['violation', { log: attachments.log, violation: { site: 'x', jiffies: 1 } }],
      ['run.end', { events: 3, status: 'completed', violations: 0 }],
    ];
    for (const [type, p] of payloads) {
      expect(encodePayload(type as 'call', p as CallPayload), type).toBe(reference(p));
    }
  });

  it('refuses a non-finite number anywhere, as canonicalJson does', () => {
    expect(() => encodePayload('call', call(context({ jiffies: NaN })))).toThrow(
      CanonicalEncodingError,
    );
    expect(() =>
      encodePayload('call', call(context(), { trace: [{ detail: { n: Infinity }, what: 'w' }] })),
    ).toThrow(CanonicalEncodingError);
    const g = { panicked: false, prevJiffy: -Infinity, taintWarn: false };
    expect(() =>
      encodePayload('return', {
        fn: 'f',
        from: 'mm',
        globals: g,
        ret: 0,
        to: 'mm',
      } as unknown as ReturnPayload),
    ).toThrow(CanonicalEncodingError);
  });
});
