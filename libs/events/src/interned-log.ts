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
import type { ExecContext, HeldLock, KernelGlobals, TaskRef } from '@mnsim/kernel';
import { canonicalJson } from './canonical.js';
import type {
  CallPayload,
  PayloadMap,
  ReturnPayload,
  StimulusPayload,
  TraceEntry,
} from './payloads.js';
import type { LogDef } from './stored-log.js';
import { type CanonicalEvent, EVENT_TYPES, type EventType, type Json } from './types.js';

/** An event as the engine emits it: its payload typed by its type, not yet encoded. */
export interface TypedEvent<T extends EventType = EventType> {
  id: string;
  seq: number;
  type: T;
  causationId: string | null;
  jiffies: number;
  payload: PayloadMap[T];
}

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

/** Whether a line of a format 2 log is an event's (`[…]`) rather than a definition (`{…}`). */
export function isEventLine(line: string): boolean {
  return line.charCodeAt(0) === 0x5b;
}

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

/**
 * The ids of the last few distinct values of one kind, found by comparing a value with copies of
 * them (equal as the canonical encoding sees it) rather than by encoding it: most events use one
 * of the contexts of the events just before.
 */
class RecentValues {
  private static readonly SIZE = 8;
  private readonly copies: unknown[] = [];
  private readonly ids: number[] = [];
  private victim = 0;

  /** The id of the copy equal to `v` (but for its member `skip`). */
  find(v: unknown, skip?: string): number | undefined {
    for (let i = 0; i < this.copies.length; i++) {
      if (jsonEqual(v, this.copies[i], skip)) return this.ids[i];
    }
    return undefined;
  }

  add(v: unknown, id: number, skip?: string): void {
    const copy = jsonCopy(v, skip);
    if (this.copies.length < RecentValues.SIZE) {
      this.copies.push(copy);
      this.ids.push(id);
      return;
    }
    this.copies[this.victim] = copy;
    this.ids[this.victim] = id;
    this.victim = (this.victim + 1) % RecentValues.SIZE;
  }
}

/**
 * Whether two JSON values have the same canonical encoding: members whose value is undefined are
 * absent, list items that are undefined are null, and 0 is -0. `skip`: a member of the top level
 * left out (absent from `copy`).
 */
function jsonEqual(v: unknown, copy: unknown, skip?: string): boolean {
  if (v === copy) return true;
  if (typeof v !== 'object' || typeof copy !== 'object' || v === null || copy === null) {
    return (v ?? null) === null && copy === null && v !== undefined;
  }
  if (Array.isArray(v)) {
    if (!Array.isArray(copy) || v.length !== copy.length) return false;
    for (let i = v.length - 1; i >= 0; i--) {
      const item: unknown = v[i];
      if (!jsonEqual(item === undefined ? null : item, copy[i])) return false;
    }
    return true;
  }
  if (Array.isArray(copy) || Object.getPrototypeOf(v) !== Object.prototype) return false;
  const a = v as JsonObject;
  const b = copy as JsonObject;
  let n = 0;
  for (const k in a) {
    const x = a[k];
    if (x === undefined || k === skip) continue;
    if (!(k in b) || !jsonEqual(x, b[k])) return false;
    n++;
  }
  for (const k in b) if (b[k] !== undefined) n--;
  return n === 0;
}

/** A deep copy of a JSON value as the canonical encoding sees it (see jsonEqual). */
function jsonCopy(v: unknown, skip?: string): unknown {
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) return v.map((item: unknown) => jsonCopy(item === undefined ? null : item));
  const out: JsonObject = {};
  for (const k in v as JsonObject) {
    const x = (v as JsonObject)[k];
    if (x !== undefined && k !== skip) out[k] = jsonCopy(x);
  }
  return out;
}

/** Writes the lines of a run's events in format 2, event after event, in seq order. */
export class LogInterner {
  /** kind + NUL + canonical value → id */
  private readonly ids = new Map<string, number>();
  /** shape keys joined by NUL → id: the shapes of every object, without encoding its keys */
  private readonly shapes = new Map<string, number>();
  /** fn, from, to joined by NUL → id */
  private readonly sites = new Map<string, number>();
  private readonly recentContexts = new RecentValues();
  private readonly recentGlobals = new RecentValues();
  /** the typed path's: body shapes by members present, trace entries by function and keys */
  private readonly bodyShapes: number[] = [];
  /** the typed path's contexts by their members joined */
  private readonly contextIds = new Map<string, number>();
  /** the shapes of objects seen, by their first key: see objectShape() */
  private readonly objectShapes = new Map<string, ObjectShape[]>();
  private readonly lastGlobals: Array<{ g: KernelGlobals; id: number }> = [];
  private readonly lastSites: Array<{
    fn: string;
    from: string | undefined;
    to: string;
    id: number;
  }> = [];
  private readonly lastStacks: Array<{ frames: string[]; id: number }> = [];
  private readonly lastLocks: Array<{ locks: HeldLock[]; id: number }> = [];
  private readonly lastTasks: Array<{ t: TaskRef; id: number }> = [];
  private readonly lastContexts: Array<{
    cpu: number;
    globals: number;
    irqsDisabled: boolean;
    locks: number;
    nonBlockCount: number;
    preemptCount: number;
    preemptDisableIp: string | null;
    stack: number;
    task: number;
    id: number;
  }> = [];
  private nextId = 1;
  /** where the definitions of the event being written go */
  private out: string[] = [];

  /** Appends to `out` the definitions `e` is the first to use, then its own line. */
  push(e: CanonicalEvent, out: string[]): void {
    this.out = out;
    this.envelope(e, this.body(e));
  }

  /** push() for an event kept whole with its payload as canonical JSON text (the store's rows). */
  pushEncoded(e: Omit<CanonicalEvent, 'payload'>, payloadText: string, out: string[]): void {
    this.push(
      {
        causationId: e.causationId,
        id: e.id,
        jiffies: e.jiffies,
        payload: JSON.parse(payloadText) as Json,
        seq: e.seq,
        type: e.type,
      },
      out,
    );
  }

  /**
   * push() for an event as the engine emits it (its payload's members typed, the context live):
   * the same lines, written from what the types say a payload holds instead of discovering it.
   */
  pushTyped(e: TypedEvent, out: string[]): void {
    this.out = out;
    switch (e.type) {
      case 'call':
      case 'step':
      case 'timer':
        return this.envelope(e, this.invocation(e as TypedEvent<'call' | 'step' | 'timer'>));
      case 'return':
        return this.envelope(e, this.returned((e as TypedEvent<'return'>).payload));
      default:
        return this.envelope(e, this.body(e as unknown as CanonicalEvent));
    }
  }

  private envelope(e: Omit<CanonicalEvent, 'payload'>, body: string): void {
    let line = `[${JSON.stringify(e.type)},${JSON.stringify(e.id)},${e.jiffies},${body}`;
    if (e.causationId !== parentOf(e.id)) {
      line += e.causationId === null ? ',null' : `,${JSON.stringify(e.causationId)}`;
    }
    this.out.push(line + ']');
  }

  /**
   * A call's or a stimulus's body, its members in code-point order (args, armed, ctx, log, site,
   * step, trace) and its definitions in the order push() makes them: the members' own, then the
   * site, then the body's shape.
   */
  private invocation(e: TypedEvent<'call' | 'step' | 'timer'>): string {
    const p = e.payload as CallPayload & StimulusPayload;
    const stimulus = e.type !== 'call';
    let mask = stimulus ? 32 : 0;
    let values = '';
    if (p.args !== undefined) {
      mask |= 1;
      values += `,${this.value(p.args)}`;
    }
    if (p.armed !== undefined) {
      mask |= 2;
      values += `,${this.value(p.armed)}`;
    }
    values += `,${this.typedCtx(p.ctx, e.jiffies)}`;
    if (p.log !== undefined) {
      mask |= 4;
      values += `,${this.value(p.log)}`;
    }
    let tail = stimulus ? `,${p.step === null ? 'null' : canonicalNumber(p.step)}` : '';
    if (p.trace !== undefined) {
      mask |= 8;
      tail += `,${this.typedTrace(p.trace)}`;
    }
    const site = this.typedSite(p.fn, stimulus ? undefined : p.from, p.to);
    return `[${this.bodyShape(mask)}${values},${site}${tail}]`;
  }

  /** A return's body: armed, globals, log, ret, site, trace. */
  private returned(p: ReturnPayload): string {
    let mask = 64;
    let values = '';
    if (p.armed !== undefined) {
      mask |= 2;
      values += `,${this.value(p.armed)}`;
    }
    values += `,${this.typedGlobals(p.globals)}`;
    if (p.log !== undefined) {
      mask |= 4;
      values += `,${this.value(p.log)}`;
    }
    if (p.ret !== undefined) {
      mask |= 16;
      values += `,${this.value(p.ret)}`;
    }
    let tail = '';
    if (p.trace !== undefined) {
      mask |= 8;
      tail = `,${this.typedTrace(p.trace)}`;
    }
    const site = this.typedSite(p.fn, p.from, p.to);
    return `[${this.bodyShape(mask)}${values},${site}${tail}]`;
  }

  /** The shape of a typed body, by which members it has (see invocation and returned). */
  private bodyShape(mask: number): number {
    let id = this.bodyShapes[mask];
    if (id === undefined) {
      const keys: string[] = [];
      if (mask & 1) keys.push('args');
      if (mask & 2) keys.push('armed');
      if (!(mask & 64)) keys.push('ctx');
      if (mask & 64) keys.push('globals');
      if (mask & 4) keys.push('log');
      if (mask & 16) keys.push('ret');
      keys.push('site');
      if (mask & 32) keys.push('step');
      if (mask & 8) keys.push('trace');
      id = this.shape(keys);
      this.bodyShapes[mask] = id;
    }
    return id;
  }

  private typedSite(fn: string, from: string | undefined, to: string): number {
    const recent = this.lastSites;
    for (let i = 0; i < recent.length; i++) {
      const x = recent[i];
      if (x.fn === fn && x.to === to && x.from === from) return x.id;
    }
    const id = this.siteOf(fn, from, to);
    remember(recent, { fn, from, to, id });
    return id;
  }

  private siteOf(fn: string, from: string | undefined, to: string): number {
    const key = `${fn}\u0000${from ?? ''}\u0000${to}\u0000${from === undefined ? 's' : 'c'}`;
    let id = this.sites.get(key);
    if (id === undefined) {
      id = this.ref('site', canonicalJson(from === undefined ? { fn, to } : { fn, from, to }));
      this.sites.set(key, id);
    }
    return id;
  }

  private typedTrace(entries: readonly TraceEntry[]): string {
    let s = '[';
    for (let i = 0; i < entries.length; i++) {
      const { detail, what } = entries[i];
      const shape = this.objectShape(detail);
      let id = shape.entries.get(what);
      if (id === undefined) {
        id = this.ref('entry', JSON.stringify([what, shape.keys]));
        shape.entries.set(what, id);
      }
      s += i === 0 ? `[${id}` : `,[${id}`;
      for (const k of shape.keys) s += `,${this.value(detail[k])}`;
      s += ']';
    }
    return s + ']';
  }

  /**
   * The shape of a plain object, found by the order its keys were inserted in (the model builds
   * each kind of object the same way): no keys copied or sorted but the first time.
   */
  private objectShape(o: JsonObject): ObjectShape {
    let first = '';
    for (const k in o) {
      if (o[k] !== undefined) {
        first = k;
        break;
      }
    }
    let known = this.objectShapes.get(first);
    if (known === undefined) this.objectShapes.set(first, (known = []));
    for (let i = 0; i < known.length; i++) if (inOrder(o, known[i].order)) return known[i];
    const order: string[] = [];
    for (const k in o) if (o[k] !== undefined) order.push(k);
    const keys = order.slice().sort();
    // its shape is defined when an object of it is first written as a value, not before
    const shape: ObjectShape = { order, keys, id: 0, entries: new Map() };
    known.push(shape);
    return shape;
  }

  private typedGlobals(g: KernelGlobals): number {
    const c = this.lastGlobals;
    for (let i = 0; i < c.length; i++) {
      const x = c[i];
      if (
        x.g.prevJiffy === g.prevJiffy &&
        x.g.panicked === g.panicked &&
        x.g.taintWarn === g.taintWarn
      ) {
        return x.id;
      }
    }
    const copy = { panicked: g.panicked, prevJiffy: g.prevJiffy, taintWarn: g.taintWarn };
    const id = this.ref('globals', canonicalJson(copy));
    remember(c, { g: copy, id });
    return id;
  }

  private typedStack(frames: readonly string[]): number {
    const c = this.lastStacks;
    outer: for (let i = 0; i < c.length; i++) {
      const x = c[i].frames;
      if (x.length !== frames.length) continue;
      for (let j = x.length - 1; j >= 0; j--) if (x[j] !== frames[j]) continue outer;
      return c[i].id;
    }
    const copy = frames.slice();
    const id = this.stack(copy);
    remember(c, { frames: copy, id });
    return id;
  }

  private typedLocks(locks: readonly HeldLock[]): number {
    const c = this.lastLocks;
    outer: for (let i = 0; i < c.length; i++) {
      const x = c[i].locks;
      if (x.length !== locks.length) continue;
      for (let j = x.length - 1; j >= 0; j--) {
        if (x[j].at !== locks[j].at || x[j].name !== locks[j].name) continue outer;
      }
      return c[i].id;
    }
    const copy = locks.map((l) => ({ at: l.at, name: l.name }));
    const id = this.ref('locks', canonicalJson(copy));
    remember(c, { locks: copy, id });
    return id;
  }

  private typedTask(t: TaskRef): number {
    const c = this.lastTasks;
    for (let i = 0; i < c.length; i++) {
      const x = c[i].t;
      if (x.pid === t.pid && x.comm === t.comm && x.kthread === t.kthread) return c[i].id;
    }
    const copy = { comm: t.comm, kthread: t.kthread, pid: t.pid };
    const id = this.ref('task', canonicalJson(copy));
    remember(c, { t: copy, id });
    return id;
  }

  /** A live context: its parts' ids (in push()'s order of definition), then its own. */
  private typedCtx(c: ExecContext, jiffies: number): string {
    if (c.jiffies !== jiffies) return this.value(c);
    const globals = this.typedGlobals(c.globals);
    const locks = this.typedLocks(c.locks);
    const stack = this.typedStack(c.stack);
    const task = this.typedTask(c.task);
    const cache = this.lastContexts;
    for (let i = 0; i < cache.length; i++) {
      const x = cache[i];
      if (
        x.stack === stack &&
        x.locks === locks &&
        x.preemptCount === c.preemptCount &&
        x.nonBlockCount === c.nonBlockCount &&
        x.cpu === c.cpu &&
        x.task === task &&
        x.globals === globals &&
        x.irqsDisabled === c.irqsDisabled &&
        x.preemptDisableIp === c.preemptDisableIp
      ) {
        return String(x.id);
      }
    }
    const def = {
      cpu: c.cpu,
      globals,
      irqsDisabled: c.irqsDisabled,
      locks,
      nonBlockCount: c.nonBlockCount,
      preemptCount: c.preemptCount,
      preemptDisableIp: c.preemptDisableIp,
      stack,
      task,
    };
    // not among the recent ones: by its members joined, before its encoding is looked up
    const key = `${c.cpu}|${globals}|${c.irqsDisabled}|${locks}|${c.nonBlockCount}|${c.preemptCount}|${stack}|${task}|${c.preemptDisableIp === null ? '' : `=${c.preemptDisableIp}`}`;
    let id = this.contextIds.get(key);
    if (id === undefined) {
      id = this.ref('ctx', canonicalJson(def));
      this.contextIds.set(key, id);
    }
    remember(cache, { ...def, id });
    return String(id);
  }

  /**
   * An interner that goes on from where the one that wrote `defs` (every definition it made, in id
   * order) stopped: the next event is interned exactly as that interner would intern it. The store
   * keeps a run's definitions, so that whoever appends the run's next events (any auditor) can.
   * @throws LogFormatError when the ids are not 1, 2, … or a stack extends no stack before it
   */
  static resume(defs: Iterable<LogDef>): LogInterner {
    const interner = new LogInterner();
    const stacks = new Map<number, readonly string[]>();
    for (const d of defs) {
      if (d.id !== interner.nextId) {
        throw new LogFormatError(`definition ${d.id} where ${interner.nextId} is next`);
      }
      interner.nextId++;
      if (d.kind !== 'stack') {
        interner.ids.set(`${d.kind}\u0000${d.value}`, d.id);
        continue;
      }
      const [parent, ...own] = JSON.parse(d.value) as [number, ...string[]];
      const base = parent === 0 ? [] : stacks.get(parent);
      if (base === undefined) throw new LogFormatError(`stack ${d.id} extends no stack ${parent}`);
      const frames = [...base, ...own];
      stacks.set(d.id, frames);
      interner.ids.set(`stack\u0000${JSON.stringify(frames)}`, d.id);
    }
    return interner;
  }

  /** The lines of a whole log. */
  static lines(events: Iterable<CanonicalEvent>): string[] {
    const interner = new LogInterner();
    const out: string[] = [];
    for (const e of events) interner.push(e, out);
    return out;
  }

  /** The id of a value of `kind` (its canonical JSON), defining it on first use. */
  protected ref(kind: DefKind, valueJson: string): number {
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
  protected stack(frames: readonly string[]): number {
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
      else if (k === 'globals' && e.type === 'return') values.push(this.globals(v));
      else if (k === 'trace') values.push(this.trace(v));
      else values.push(this.value(v));
    }
    if (site !== null) {
      const at = keys.findIndex((k) => k > 'site');
      const i = at === -1 ? keys.length : at;
      keys.splice(i, 0, 'site');
      values.splice(i, 0, String(this.site(site)));
    }
    return this.shaped(keys, values);
  }

  private shaped(keys: readonly string[], values: readonly string[]): string {
    let s = `[${this.shape(keys)}`;
    for (const v of values) s += `,${v}`;
    return s + ']';
  }

  /** A context: a ref to its definition, or (when its jiffies are not the event's) a value. */
  private ctx(v: unknown, jiffies: number): string {
    if (!isPlainObject(v) || v.jiffies !== jiffies) return this.value(v);
    // a chain goes back and forth between a few contexts: compared before anything is encoded
    const recent = this.recentContexts.find(v, 'jiffies');
    if (recent !== undefined) return String(recent);
    if (v.stack !== undefined && !isStringList(v.stack)) return this.value(v);
    const def: JsonObject = {};
    for (const k of keysOf(v)) {
      if (k === 'jiffies') continue;
      if (k === 'stack') def[k] = this.stack(v[k] as string[]);
      else def[k] = CTX_PARTS.has(k) ? this.ref(k as DefKind, canonicalJson(v[k])) : v[k];
    }
    const id = this.ref('ctx', canonicalJson(def));
    this.recentContexts.add(v, id, 'jiffies');
    return String(id);
  }

  /** A return's globals. */
  private globals(v: unknown): string {
    const recent = this.recentGlobals.find(v);
    if (recent !== undefined) return String(recent);
    const id = this.ref('globals', canonicalJson(v));
    this.recentGlobals.add(v, id);
    return String(id);
  }

  /** A call site: its fn, from and to (fn and to for a stimulus). */
  private site(site: JsonObject): number {
    const { fn, from, to } = site;
    const simple =
      typeof fn === 'string' &&
      typeof to === 'string' &&
      (from === undefined || typeof from === 'string') &&
      keysOf(site).length === (from === undefined ? 2 : 3);
    return simple ? this.siteOf(fn, from, to) : this.ref('site', canonicalJson(site));
  }

  /** A trace: its entries by their function and detail keys, or (any other form) a value. */
  protected trace(v: unknown): string {
    if (!Array.isArray(v) || !v.every(isTraceEntry)) return this.value(v);
    return this.typedTrace(v as TraceEntry[]);
  }

  /** The shaped encoding of a value. */
  protected value(v: unknown): string {
    switch (typeof v) {
      case 'string':
        return JSON.stringify(v);
      case 'number':
        return canonicalNumber(v);
      case 'boolean':
        return v ? 'true' : 'false';
      case 'object':
        break;
      default:
        return canonicalJson(v); // throws: not JSON
    }
    if (v === null) return 'null';
    if (Array.isArray(v)) {
      let s = `[${LIST}`;
      for (const item of v) s += `,${item === undefined ? 'null' : this.value(item)}`;
      return s + ']';
    }
    if (!isPlainObject(v)) return canonicalJson(v); // throws: not JSON
    const shape = this.objectShape(v);
    if (shape.id === 0) shape.id = this.shape(shape.keys);
    const keys = shape.keys;
    let s = `[${shape.id}`;
    for (let i = 0; i < keys.length; i++) s += `,${this.value(v[keys[i]])}`;
    return s + ']';
  }

  /** The id of a shape (keys in code-point order): looked up by the keys joined, defined once. */
  protected shape(keys: readonly string[]): number {
    const joined = keys.join('\u0000');
    let id = this.shapes.get(joined);
    if (id === undefined) {
      id = this.ref('shape', JSON.stringify(keys));
      this.shapes.set(joined, id);
    }
    return id;
  }
}

/** An object's shape as objectShape() finds it. */
interface ObjectShape {
  /** its keys in the order they were inserted */
  order: string[];
  /** in code-point order: the shape's */
  keys: string[];
  /** its shape definition's id; 0 until an object of it is written as a value */
  id: number;
  /** the trace entries of this detail shape, by the function traced */
  entries: Map<string, number>;
}

/** Whether the defined members of `o` were inserted in `order`. */
function inOrder(o: JsonObject, order: readonly string[]): boolean {
  let i = 0;
  for (const k in o) {
    if (o[k] === undefined) continue;
    if (order[i++] !== k) return false;
  }
  return i === order.length;
}

/**
 * How many recent values of each context part the typed path compares before looking further:
 * a long run cycles through a few dozen contexts, stacks and call sites.
 */
const RECENT = 32;

/** Keeps `entry` among the recent ones: the newest first, the oldest dropped. */
function remember<T>(recent: T[], entry: T): void {
  recent.unshift(entry);
  if (recent.length > RECENT) recent.pop();
}

/** A number as the canonical encoding writes it. */
function canonicalNumber(n: number): string {
  if (!Number.isFinite(n)) return canonicalJson(n); // throws
  return Object.is(n, -0) ? '0' : String(n);
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

  /**
   * A definition as the store keeps it, for expanding stored events in any order (`expandBody`):
   * every definition up to the last one they use, in id order. Not for a verifying expander.
   */
  define(def: LogDef): void {
    let value: unknown;
    try {
      value = JSON.parse(def.value);
    } catch (err) {
      throw new LogFormatError(`definition ${def.id} is not JSON (${(err as Error).message})`);
    }
    this.defined(def.id, def.kind, value);
  }

  /** How many definitions were read. */
  get definitions(): number {
    return this.defs.length;
  }

  /**
   * A stored event: its envelope and its format 2 body's text, as format 1 has it. Not for a
   * verifying expander, which reads a log line by line from its start.
   */
  expandBody(e: Omit<CanonicalEvent, 'payload'>, body: string): CanonicalEvent {
    if (this.shadow) throw new Error('LogExpander.expandBody: a verifying expander reads lines');
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (err) {
      throw new LogFormatError(`not JSON (${(err as Error).message})`);
    }
    return {
      causationId: e.causationId,
      id: e.id,
      jiffies: e.jiffies,
      payload: this.payload(e.type, e.jiffies, parsed) as Json,
      seq: e.seq,
      type: e.type,
    };
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
    this.defined(d.id, d.kind, d.value);
  }

  private defined(id: unknown, kindName: unknown, defValue: unknown): void {
    const d = { id, kind: kindName, value: defValue };
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
