import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { canonicalEventLine } from './log.js';
import type { CanonicalEvent } from './types.js';
import { LogExpander, LogFormatError, LogInterner, isEventLine } from './interned-log.js';
import { bodyOfEventLine, defLine, eventLine, type LogDef, parseDefLine } from './stored-log.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/format-1/', import.meta.url));

/** The events of the format 1 fixtures: real runs, exported before format 2 existed. */
const logs: Array<[string, CanonicalEvent[]]> = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.jsonl'))
  .map((f) => [
    f,
    readFileSync(FIXTURES + f, 'utf8')
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((l) => JSON.parse(l) as CanonicalEvent),
  ]);

/** What a store keeps of a log: the definitions, and each event's body. */
function stored(events: CanonicalEvent[]): { defs: LogDef[]; bodies: string[] } {
  const interner = new LogInterner();
  const defs: LogDef[] = [];
  const bodies: string[] = [];
  const out: string[] = [];
  for (const e of events) {
    interner.push(e, out);
    for (const l of out.slice(0, -1)) defs.push(parseDefLine(l));
    bodies.push(bodyOfEventLine(e, out[out.length - 1]));
    out.length = 0;
  }
  return { defs, bodies };
}

describe.each(logs)('the stored form of %s', (_name, events) => {
  it('gives back the lines: definitions and events rebuilt from their parts', () => {
    const lines = LogInterner.lines(events);
    const { defs, bodies } = stored(events);
    expect(lines.filter((l) => !isEventLine(l))).toEqual(defs.map(defLine));
    expect(lines.filter(isEventLine)).toEqual(events.map((e, i) => eventLine(e, bodies[i])));
  });

  it('resumes interning at any event, as the interner that wrote the first ones would go on', () => {
    const whole = LogInterner.lines(events);
    for (const cut of [1, Math.floor(events.length / 3), events.length - 1]) {
      const before = LogInterner.lines(events.slice(0, cut));
      const defs = before.filter((l) => !isEventLine(l)).map(parseDefLine);
      const resumed = LogInterner.resume(defs);
      const after: string[] = [];
      for (const e of events.slice(cut)) resumed.push(e, after);
      expect([...before, ...after]).toEqual(whole);
    }
  });

  it('expands any stored event from the definitions, in any order', () => {
    const { defs, bodies } = stored(events);
    const expander = new LogExpander({ verify: false });
    for (const d of defs) expander.define(d);
    for (const i of [...events.keys()].reverse()) {
      const e = events[i];
      expect(canonicalEventLine(expander.expandBody(e, bodies[i]))).toBe(canonicalEventLine(e));
    }
  });
});

describe('stored lines', () => {
  const e = { type: 'call' as const, id: 's3.1', jiffies: 7, causationId: 's3' };

  it('takes the body of the line of its envelope, and refuses the line of another', () => {
    expect(bodyOfEventLine(e, '["call","s3.1",7,[4,12,9]]')).toBe('[4,12,9]');
    const rooted = { ...e, causationId: null };
    expect(bodyOfEventLine(rooted, '["call","s3.1",7,[4],null]')).toBe('[4]');
    expect(eventLine(rooted, '[4]')).toBe('["call","s3.1",7,[4],null]');
    for (const other of [
      '["call","s3.1",8,[4]]',
      '["return","s3.1",7,[4]]',
      '["call","s3.1",7,]',
    ]) {
      expect(() => bodyOfEventLine(e, other)).toThrow(LogFormatError);
    }
  });

  it('reads a definition line back to its parts, and refuses what is not one', () => {
    const d: LogDef = { id: 12, kind: 'stack', value: '[3,"a","b"]' };
    expect(parseDefLine(defLine(d))).toEqual(d);
    for (const bad of [
      '{"id":0,"kind":"stack","value":[0]}',
      '{"id":1,"kind":"nope","value":1}',
      '{"kind":"ctx","id":1,"value":{}}',
      '{"id":1,"kind":"ctx","value":',
    ]) {
      expect(() => parseDefLine(bad)).toThrow(LogFormatError);
    }
  });

  it('will not resume from definitions that skip an id', () => {
    expect(() =>
      LogInterner.resume([
        { id: 1, kind: 'shape', value: '["a"]' },
        { id: 3, kind: 'shape', value: '["b"]' },
      ]),
    ).toThrow('definition 3 where 2 is next');
  });
});
