/**
 * Log format 2: a run's canonical log with its repeated parts interned. Perfetto's trace packets
 * carry each string, frame and callstack once per sequence ("interned data") and refer to it by
 * id after that; mnsim's log does the same for what its events repeat. Format 1 wrote every
 * event's whole execution context (task, counts, held locks, call stack): ~700 bytes a line, of
 * which a handful of distinct contexts make up more than half.
 *
 * The lines after the header are of two kinds, told apart by their first character:
 *
 * - A definition, `{"id":7,"kind":"ctx","value":…}`: one distinct value, given the next id (1, 2,
 *   … in the order of first use, one sequence for every kind). It comes right before the first
 *   event that refers to it, and never again.
 * - An event, `[type, id, jiffies, body]`, with its causationId as a fifth element only when it is
 *   not the id's parent (`s3.1` is caused by `s3`; a root by nothing). The seq is the event's
 *   position among the events.
 *
 * A body is a value in the "shaped" encoding: an object is `[shape, …its values]`, the shape being
 * the id of its sorted keys (a `shape` definition); a list is `[0, …its items]`; a string, number,
 * boolean or null is itself. The payload's own members are shaped too, where these are refs:
 *
 * - `ctx` (step, timer, call): a `ctx` definition, the context without its jiffies (the event's),
 *   whose `stack`, `locks`, `task` and `globals` are refs to definitions of those kinds;
 * - `globals` (return): a `globals` definition;
 * - `site` (step, timer, call, return): a `site` definition holding the payload's `fn`, `from`
 *   and `to` (a step's index stays in the body);
 * - `trace` (any type): a list of `[entry, …the detail's values]`, the entry a definition of the
 *   traced function's name and the detail's keys.
 *
 * A value that does not fit these forms (a context whose jiffies are not the event's, a trace
 * entry that is not {detail, what}) is written in the plain shaped encoding: the encoding is
 * exact for any log, and expanding a format 2 log gives back the format 1 lines byte for byte.
 *
 * Everything is canonical: one log has one format 2 encoding. The expander checks that every line
 * is what the interner writes for the events it read, so any other encoding is refused at its line.
 */
import { canonicalJson } from './canonical.js';
import type { CanonicalEvent } from './log.js';
import { EVENT_TYPES, type EventType, type Json } from './types.js';

export const DEF_KINDS = [
  'shape',
  'ctx',
  'stack',
  'locks',
  'task',
  'globals',
  'site',
  'entry',
] as const;
export type DefKind = (typeof DEF_KINDS)[number];

/** A format 2 log that cannot be expanded: the reason, for its reader to place at the line. */
export class LogFormatError extends Error {}

/** The marker of a list in the shaped encoding (shape ids start at 1). */
const LIST = 0;

/** The keys of a payload that its `site` definition holds, by event type. */
const SITE_KEYS: Partial<Record<EventType, readonly string[]>> = {
  step: ['fn', 'to'],
  timer: ['fn', 'to'],
  call: ['fn', 'from', 'to'],
  return: ['fn', 'from', 'to'],
};

/** The event types whose payload's `ctx` is a context reference. */
const CTX_TYPES: ReadonlySet<EventType> = new Set(['step', 'timer', 'call']);

/** The parts of a context that are definitions of their own. */
const CTX_PARTS: ReadonlySet<string> = new Set(['globals', 'locks', 'stack', 'task']);

/** The event a format 2 line refers to as its cause when it names none: its id's parent. */
export function parentOf(id: string): string | null {
  const dot = id.lastIndexOf('.');
  return dot === -1 ? null : id.slice(0, dot);
}

type JsonObject = { [key: string]: unknown };

function isPlainObject(v: unknown): v is JsonObject {
  return (
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    Object.getPrototypeOf(v) === Object.prototype
  );
}

/** An object's keys as the canonical encoding writes them: defined members, in code-point order. */
function keysOf(o: JsonObject): string[] {
  const keys: string[] = [];
  for (const k in o) if (o[k] !== undefined) keys.push(k);
  return keys.sort();
}

/** Writes the lines of a run's events in format 2, event after event, in seq order. */
export class LogInterner {
  /** kind + NUL + canonical value → id */
  private readonly ids = new Map<string, number>();
  private nextId = 1;
  /** where the definitions of the event being written go */
  private out: string[] = [];

  /** Appends to `out` the definitions `e` is the first to use, then its own line. */
  push(e: CanonicalEvent, out: string[]): void {
    this.out = out;
    const body = this.body(e);
    let line = `[${JSON.stringify(e.type)},${JSON.stringify(e.id)},${e.jiffies},${body}`;
    if (e.causationId !== parentOf(e.id)) {
      line += e.causationId === null ? ',null' : `,${JSON.stringify(e.causationId)}`;
    }
    out.push(line + ']');
  }

  /** The lines of a whole log. */
  static lines(events: Iterable<CanonicalEvent>): string[] {
    const interner = new LogInterner();
    const out: string[] = [];
    for (const e of events) interner.push(e, out);
    return out;
  }

  /** The id of a value of `kind` (its canonical JSON), defining it on first use. */
  private ref(kind: DefKind, valueJson: string): number {
    const key = `${kind}\u0000${valueJson}`;
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(key, id);
      this.out.push(`{"id":${id},"kind":"${kind}","value":${valueJson}}`);
    }
    return id;
  }

  /**
   * A call stack's id. A new stack is defined by the longest stack already defined that it
   * extends (as Perfetto interns a callstack by its parent): `[parent id or 0, …its own frames]`,
   * since a chain's stacks grow frame by frame from the one its stimulus began with.
   */
  private stack(frames: readonly string[]): number {
    const key = `stack\u0000${JSON.stringify(frames)}`;
    const known = this.ids.get(key);
    if (known !== undefined) return known;
    let parent = 0;
    let from = 0;
    for (let n = frames.length - 1; n > 0; n--) {
      const p = this.ids.get(`stack\u0000${JSON.stringify(frames.slice(0, n))}`);
      if (p !== undefined) {
        parent = p;
        from = n;
        break;
      }
    }
    const id = this.nextId++;
    this.ids.set(key, id);
    this.out.push(
      `{"id":${id},"kind":"stack","value":${JSON.stringify([parent, ...frames.slice(from)])}}`,
    );
    return id;
  }

  private body(e: CanonicalEvent): string {
    const payload = e.payload;
    if (!isPlainObject(payload)) return this.value(payload);
    const siteKeys = SITE_KEYS[e.type];
    if (siteKeys && payload.site !== undefined) {
      throw new LogFormatError(`a ${e.type} payload has a "site" member, which format 2 reserves`);
    }
    const keys: string[] = [];
    const values: string[] = [];
    let site: JsonObject | null = null;
    for (const k of keysOf(payload)) {
      const v = payload[k];
      if (siteKeys?.includes(k)) {
        site ??= {};
        site[k] = v;
        continue;
      }
      keys.push(k);
      if (k === 'ctx' && CTX_TYPES.has(e.type)) values.push(this.ctx(v, e.jiffies));
      else if (k === 'globals' && e.type === 'return')
        values.push(String(this.ref('globals', canonicalJson(v))));
      else if (k === 'trace') values.push(this.trace(v));
      else values.push(this.value(v));
    }
    if (site !== null) {
      const at = keys.findIndex((k) => k > 'site');
      const i = at === -1 ? keys.length : at;
      keys.splice(i, 0, 'site');
      values.splice(i, 0, String(this.ref('site', canonicalJson(site))));
    }
    return this.shaped(keys, values);
  }

  private shaped(keys: readonly string[], values: readonly string[]): string {
    let s = `[${this.ref('shape', JSON.stringify(keys))}`;
    for (const v of values) s += `,${v}`;
    return s + ']';
  }

  /** A context: a ref to its definition, or (when its jiffies are not the event's) a value. */
  private ctx(v: unknown, jiffies: number): string {
    if (!isPlainObject(v) || v.jiffies !== jiffies) return this.value(v);
    if (v.stack !== undefined && !isStringList(v.stack)) return this.value(v);
    const def: JsonObject = {};
    for (const k of keysOf(v)) {
      if (k === 'jiffies') continue;
      if (k === 'stack') def[k] = this.stack(v[k] as string[]);
      else def[k] = CTX_PARTS.has(k) ? this.ref(k as DefKind, canonicalJson(v[k])) : v[k];
    }
    return String(this.ref('ctx', canonicalJson(def)));
  }

  /** A trace: its entries by their function and detail keys, or (any other form) a value. */
  private trace(v: unknown): string {
    if (!Array.isArray(v) || !v.every(isTraceEntry)) return this.value(v);
    let s = '[';
    for (let i = 0; i < v.length; i++) {
      const { detail, what } = v[i] as { detail: JsonObject; what: string };
      const keys = keysOf(detail);
      if (i > 0) s += ',';
      s += `[${this.ref('entry', JSON.stringify([what, keys]))}`;
      for (const k of keys) s += `,${this.value(detail[k])}`;
      s += ']';
    }
    return s + ']';
  }

  /** The shaped encoding of a value. */
  private value(v: unknown): string {
    if (v === null || typeof v !== 'object') return canonicalJson(v);
    if (Array.isArray(v)) {
      let s = `[${LIST}`;
      for (const item of v) s += `,${item === undefined ? 'null' : this.value(item)}`;
      return s + ']';
    }
    if (!isPlainObject(v)) return canonicalJson(v); // throws: not JSON
    const keys = keysOf(v);
    return this.shaped(
      keys,
      keys.map((k) => this.value(v[k])),
    );
  }
}

function isStringList(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((f) => typeof f === 'string');
}

function isTraceEntry(e: unknown): boolean {
  if (!isPlainObject(e) || typeof e.what !== 'string' || !isPlainObject(e.detail)) return false;
  const keys = keysOf(e);
  return keys.length === 2 && keys[0] === 'detail' && keys[1] === 'what';
}

/** A definition as the expander keeps it. */
interface Def {
  kind: DefKind;
  value: unknown;
}

/**
 * Reads a format 2 log line after line, giving back each event as format 1 has it. With
 * `verify`, every line is checked to be the one the interner writes (canonical, each definition
 * right before its first use, ids in order): what `mnsim import` and replay of a file require.
 * Without it (the store's own lines), only what expansion needs is checked.
 */
export class LogExpander {
  private readonly defs: Def[] = [];
  private seq = 0;
  private readonly shadow: LogInterner | null;
  /** the lines read since the last event, to compare with the shadow interner's */
  private pending: string[] = [];

  constructor(opts: { verify?: boolean } = {}) {
    this.shadow = opts.verify === false ? null : new LogInterner();
  }

  /** Events expanded so far. */
  get events(): number {
    return this.seq;
  }

  /**
   * The next line: null for a definition, the event for an event line.
   * @throws LogFormatError with the reason
   */
  line(text: string): CanonicalEvent | null {
    const first = text.charCodeAt(0);
    if (first === 0x7b /* { */) {
      this.definition(text);
      if (this.shadow) this.pending.push(text);
      return null;
    }
    if (first !== 0x5b /* [ */) {
      throw new LogFormatError('neither a definition ({…}) nor an event ([…])');
    }
    const e = this.event(text);
    if (this.shadow) {
      const expected: string[] = [];
      this.shadow.push(e, expected);
      this.pending.push(text);
      if (!sameLines(expected, this.pending)) throw this.notCanonical(expected);
      this.pending = [];
    }
    this.seq++;
    return e;
  }

  /** Once the last line is read: definitions after the last event are refused. */
  end(): void {
    if (this.pending.length > 0) {
      throw new LogFormatError(`${this.pending.length} definition line(s) after the last event`);
    }
  }

  private notCanonical(expected: readonly string[]): LogFormatError {
    const defs = this.pending.length - 1;
    const expectedDefs = expected.length - 1;
    if (defs !== expectedDefs || this.pending.slice(0, defs).some((l, i) => l !== expected[i])) {
      return new LogFormatError(
        `the definitions before this event (${defs}) are not the ${expectedDefs} it is the first to use, in order of use`,
      );
    }
    return new LogFormatError(
      'not in canonical form (the line format 2 writes for this event differs)',
    );
  }

  private definition(text: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new LogFormatError(`not JSON (${(err as Error).message})`);
    }
    const d = parsed as { id?: unknown; kind?: unknown; value?: unknown };
    if (!isPlainObject(d) || keysOf(d).join(',') !== 'id,kind,value') {
      throw new LogFormatError('a definition is {"id":…,"kind":…,"value":…}');
    }
    const next = this.defs.length + 1;
    if (d.id !== next) {
      throw new LogFormatError(`defines id ${JSON.stringify(d.id)} where ${next} is next`);
    }
    if (!(DEF_KINDS as readonly unknown[]).includes(d.kind)) {
      throw new LogFormatError(`no definitions of kind ${JSON.stringify(d.kind)}`);
    }
    const kind = d.kind as DefKind;
    checkDefValue(kind, d.value);
    let value = d.value;
    if (kind === 'ctx') value = this.expandCtxParts(value as JsonObject);
    else if (kind === 'stack') value = this.expandStack(value);
    this.defs.push({ kind, value });
  }

  /** A definition's value, checked to be of `kind`. */
  private resolve(ref: unknown, kind: DefKind): unknown {
    if (typeof ref !== 'number' || !Number.isInteger(ref)) {
      throw new LogFormatError(`a ${kind} reference must be an id, got ${JSON.stringify(ref)}`);
    }
    const d = this.defs[ref - 1];
    if (d === undefined) {
      throw new LogFormatError(`refers to ${kind} ${ref}, defined on no line before it`);
    }
    if (d.kind !== kind) {
      throw new LogFormatError(`refers to ${ref} as a ${kind}, but it is a ${d.kind}`);
    }
    return d.value;
  }

  /** A stack definition, `[parent id or 0, …frames]`, as the whole stack. */
  private expandStack(def: unknown): string[] {
    if (!Array.isArray(def) || def.length === 0 || !isStringList(def.slice(1))) {
      throw new LogFormatError('a stack is [parent stack id or 0, …frames]');
    }
    const frames = def.slice(1) as string[];
    return def[0] === 0 ? frames : [...(this.resolve(def[0], 'stack') as string[]), ...frames];
  }

  /** A context definition with its parts resolved (jiffies aside, which each event gives). */
  private expandCtxParts(def: JsonObject): JsonObject {
    const out: JsonObject = {};
    for (const k of keysOf(def))
      out[k] = CTX_PARTS.has(k) ? this.resolve(def[k], k as DefKind) : def[k];
    return out;
  }

  private event(text: string): CanonicalEvent {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new LogFormatError(`not JSON (${(err as Error).message})`);
    }
    const a = parsed as unknown[];
    if (a.length !== 4 && a.length !== 5) {
      throw new LogFormatError(
        'an event is [type, id, jiffies, body] or [type, id, jiffies, body, causationId]',
      );
    }
    const [type, id, jiffies, body] = a;
    if (!(EVENT_TYPES as readonly unknown[]).includes(type)) {
      throw new LogFormatError(`no events of type ${JSON.stringify(type)}`);
    }
    if (typeof id !== 'string' || id === '')
      throw new LogFormatError('the id must be a non-empty string');
    if (typeof jiffies !== 'number' || !Number.isInteger(jiffies) || jiffies < 0) {
      throw new LogFormatError('jiffies must be an integer ≥ 0');
    }
    const causationId = a.length === 5 ? a[4] : parentOf(id);
    if (causationId !== null && (typeof causationId !== 'string' || causationId === '')) {
      throw new LogFormatError('the causationId must be a non-empty string or null');
    }
    const t = type as EventType;
    return {
      causationId,
      id,
      jiffies,
      payload: this.payload(t, jiffies, body) as Json,
      seq: this.seq,
      type: t,
    };
  }

  private payload(type: EventType, jiffies: number, body: unknown): unknown {
    if (!Array.isArray(body) || body[0] === LIST || body.length === 0) return this.value(body);
    const keys = this.resolve(body[0], 'shape') as string[];
    if (body.length !== keys.length + 1) {
      throw new LogFormatError(
        `shape ${String(body[0])} has ${keys.length} keys, the body ${body.length - 1} values`,
      );
    }
    const siteKeys = SITE_KEYS[type];
    const out: JsonObject = {};
    let merged = false;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      const v: unknown = body[i + 1];
      if (k === 'site' && siteKeys) {
        const site = this.resolve(v, 'site') as JsonObject;
        for (const sk of keysOf(site)) out[sk] = site[sk];
        merged = true;
      } else if (k === 'ctx' && CTX_TYPES.has(type) && typeof v === 'number') {
        out[k] = sortKeys({ ...(this.resolve(v, 'ctx') as JsonObject), jiffies });
      } else if (k === 'globals' && type === 'return') {
        out[k] = this.resolve(v, 'globals');
      } else if (k === 'trace' && Array.isArray(v) && v[0] !== LIST) {
        out[k] = v.map((entry) => this.traceEntry(entry));
      } else {
        out[k] = this.value(v);
      }
    }
    return merged ? sortKeys(out) : out;
  }

  private traceEntry(entry: unknown): JsonObject {
    if (!Array.isArray(entry) || entry.length === 0) {
      throw new LogFormatError('a trace entry is [entry, …values]');
    }
    const [what, keys] = this.resolve(entry[0], 'entry') as [string, string[]];
    if (entry.length !== keys.length + 1) {
      throw new LogFormatError(
        `entry ${String(entry[0])} has ${keys.length} keys, the line ${entry.length - 1} values`,
      );
    }
    const detail: JsonObject = {};
    for (let i = 0; i < keys.length; i++) detail[keys[i]] = this.value(entry[i + 1]);
    return { detail, what };
  }

  private value(v: unknown): unknown {
    if (v === null || typeof v !== 'object') return v;
    if (!Array.isArray(v) || v.length === 0) {
      throw new LogFormatError('an object or list is written [shape, …values] or [0, …items]');
    }
    if (v[0] === LIST) {
      const out = new Array<unknown>(v.length - 1);
      for (let i = 1; i < v.length; i++) out[i - 1] = this.value(v[i]);
      return out;
    }
    const keys = this.resolve(v[0], 'shape') as string[];
    if (v.length !== keys.length + 1) {
      throw new LogFormatError(
        `shape ${String(v[0])} has ${keys.length} keys, the value ${v.length - 1}`,
      );
    }
    const out: JsonObject = {};
    for (let i = 0; i < keys.length; i++) out[keys[i]] = this.value(v[i + 1]);
    return out;
  }
}

function sameLines(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((l, i) => l === b[i]);
}

function sortKeys(o: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const k of keysOf(o)) out[k] = o[k];
  return out;
}

const isSortedStrings = (v: unknown): v is string[] =>
  Array.isArray(v) &&
  v.every((k, i) => typeof k === 'string' && (i === 0 || (v[i - 1] as string) < k));

/** What a definition of each kind must be, for expansion to read it. */
function checkDefValue(kind: DefKind, value: unknown): void {
  switch (kind) {
    case 'shape':
      if (!isSortedStrings(value)) {
        throw new LogFormatError('a shape is a list of keys in code-point order, each once');
      }
      return;
    case 'entry':
      if (
        !Array.isArray(value) ||
        value.length !== 2 ||
        typeof value[0] !== 'string' ||
        !isSortedStrings(value[1])
      ) {
        throw new LogFormatError("an entry is [what, the detail's keys in code-point order]");
      }
      return;
    case 'site':
    case 'ctx':
      if (!isPlainObject(value)) throw new LogFormatError(`a ${kind} is an object`);
      return;
    default:
      if (value === undefined) throw new LogFormatError(`a ${kind} has a value`);
  }
}

/** Expands a whole format 2 log (its lines after the header). @throws LogFormatError */
export function expandLines(lines: Iterable<string>, verify = true): CanonicalEvent[] {
  const x = new LogExpander({ verify });
  const out: CanonicalEvent[] = [];
  for (const l of lines) {
    const e = x.line(l);
    if (e) out.push(e);
  }
  x.end();
  return out;
}
