import { describe, expect, it } from 'vitest';
import { canonicalEventLine } from './log.js';
import { LogFormatError, LogInterner, expandLines, parentOf } from './interned-log.js';
import type { CanonicalEvent, Json } from './types.js';

const ctx = (jiffies: number, stack: string[]): Json => ({
  cpu: 1,
  globals: { panicked: false, prevJiffy: 0, taintWarn: false },
  irqsDisabled: false,
  jiffies,
  locks: [{ at: 'do_mprotect_pkey', name: '&mm->mmap_lock' }],
  nonBlockCount: 0,
  preemptCount: 0,
  preemptDisableIp: null,
  stack,
  task: { comm: 'qemu', kthread: false, pid: 1200 },
});

const event = (
  seq: number,
  type: CanonicalEvent['type'],
  id: string,
  payload: Json,
  causationId: string | null = parentOf(id),
  jiffies = 3,
): CanonicalEvent => ({ causationId, id, jiffies, payload, seq, type });

/** Interns and expands `events`: the format 1 lines must come back exactly. */
function roundTrip(events: CanonicalEvent[]): string[] {
  const v2 = LogInterner.lines(events);
  expect(expandLines(v2).map(canonicalEventLine)).toEqual(events.map(canonicalEventLine));
  return v2;
}

describe('log format 2', () => {
  it('interns a context, its stack by the stack it extends, and a call site', () => {
    const v2 = roundTrip([
      event(0, 'call', 's1.0', {
        args: { n: 1 },
        ctx: ctx(3, ['a', 'b']),
        fn: 'f',
        from: 'mm',
        to: 'task',
      }),
      event(1, 'call', 's1.1', {
        args: { n: 2 },
        ctx: ctx(3, ['a', 'b', 'c']),
        fn: 'f',
        from: 'mm',
        to: 'task',
      }),
      event(2, 'call', 's1.2', {
        args: { n: 3 },
        ctx: ctx(3, ['a', 'b']),
        fn: 'f',
        from: 'mm',
        to: 'task',
      }),
    ]);
    const defs = v2
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { id: number; kind: string; value: unknown });
    const stacks = defs.filter((d) => d.kind === 'stack');
    expect(stacks.map((d) => d.value)).toEqual([
      [0, 'a', 'b'],
      [stacks[0].id, 'c'],
    ]);
    expect(defs.filter((d) => d.kind === 'site')).toHaveLength(1);
    // the third call is all references but for its arguments
    expect(v2.at(-1)).toMatch(/^\["call","s1\.2",3,\[\d+,\[\d+,3\],\d+,\d+\]\]$/);
  });

  it('writes the causationId only where it is not the parent of the id', () => {
    const v2 = roundTrip([
      event(
        0,
        'timer',
        's4.2.1',
        { args: null, ctx: ctx(3, []), fn: 'oom_reaper', step: null, to: 'oom' },
        's2.7',
      ),
      event(1, 'run.end', 'run.end', { events: 2, status: 'completed', violations: 0 }, null),
      event(2, 'step', 's5', { args: null, ctx: ctx(3, []), fn: 'g', step: 5, to: 'mm' }),
    ]);
    const events = v2.filter((l) => l.startsWith('['));
    expect(events[0]).toMatch(/,"s2\.7"\]$/);
    expect(events[1]).toMatch(/,null\]$/);
    expect(events[2]).toMatch(/\]\]$/);
  });

  it('keeps exact what does not fit an interned form', () => {
    roundTrip([
      // a context whose jiffies are not the event's, a trace entry with a third member
      event(0, 'call', 'x', {
        args: [1, [0, 2], {}, [], -0],
        ctx: ctx(9, ['a']),
        fn: 'f',
        from: 'mm',
        to: 'oom',
      }),
      event(1, 'return', 'x.0', {
        fn: 'f',
        from: 'oom',
        globals: { panicked: true },
        ret: { nested: { list: [[1], [0], null, 'x'] } },
        to: 'mm',
        trace: [{ detail: { a: 1 }, what: 'w', extra: true }],
      }),
      event(2, 'violation', 'x.1', {
        trace: [{ detail: { a: [1, 2] }, what: 'w' }],
        violation: { n: 1 },
      }),
      event(3, 'call', 'x.2', {
        args: 1,
        ctx: { jiffies: 3, stack: [1, 2] },
        fn: 'f',
        from: 'mm',
        to: 'oom',
      }),
    ]);
  });

  it('drops undefined members as the canonical encoding does', () => {
    const payload = {
      args: { a: 1, b: undefined },
      ctx: ctx(3, []),
      fn: 'f',
      from: 'mm',
      to: 'oom',
    };
    const [line] = LogInterner.lines([event(0, 'call', 'y', payload as unknown as Json)]).slice(-1);
    expect(line).not.toContain('undefined');
  });

  it('refuses a payload with a member of its own named site, where its site goes', () => {
    expect(() =>
      LogInterner.lines([event(0, 'call', 'z', { args: 1, fn: 'f', site: 'here', to: 'mm' })]),
    ).toThrow(LogFormatError);
  });

  it('refuses references that are not there or not of their kind', () => {
    const shape = '{"id":1,"kind":"shape","value":["a"]}';
    expect(() => expandLines(['["step","s0",0,[7,1]]'])).toThrow(
      'refers to shape 7, defined on no line before it',
    );
    expect(() =>
      expandLines([shape, '["call","s0",0,[1,[0]]]', '["call","s1",0,[1,1,2]]']),
    ).toThrow(/shape 1 has 1 keys/);
    expect(() =>
      expandLines(['{"id":1,"kind":"stack","value":[0,"a"]}', '["call","s0",0,[1,1]]']),
    ).toThrow('refers to 1 as a shape, but it is a stack');
    expect(() => expandLines(['{"id":1,"kind":"shape","value":["b","a"]}'])).toThrow(
      'code-point order',
    );
    expect(() => expandLines(['"x"'])).toThrow('neither a definition');
  });
});
