/**
 * The canonical encoding of event payloads, written out per payload type: the same bytes as
 * {@link canonicalJson}, at a fraction of the cost. Every message carries the caller's execution
 * context, more than half of a log's bytes, and within a chain consecutive contexts differ in a
 * frame or a lock at most: its call stack, held locks, task and kernel globals are encoded once
 * and reused while they stay equal (compared element by element, never trusted by identity,
 * since the context is live and mutated between events). The envelope keys are written in their
 * code-point order here rather than discovered and checked per event. The remaining parts
 * (arguments, return values, trace details) go through canonicalJson as before.
 *
 * The spec checks this against the sorting encoder on every event of every built-in and
 * generated run.
 */
import type { ExecContext, HeldLock, KernelGlobals, PrintkLine, TaskRef } from '@mnsim/kernel';
import { CanonicalEncodingError, canonicalJson } from './canonical.js';
import type {
  ArmedTimerEntry,
  CallPayload,
  PayloadMap,
  ReturnPayload,
  StimulusPayload,
  TraceEntry,
} from './payloads.js';
import type { EventType } from './types.js';

/** A quoted JSON string, remembered for the identifiers that recur (function names, addresses). */
const quoted = new Map<string, string>();
const QUOTED_CACHE_LIMIT = 4096;

function quote(s: string): string {
  let q = quoted.get(s);
  if (q === undefined) {
    q = JSON.stringify(s);
    if (quoted.size < QUOTED_CACHE_LIMIT) quoted.set(s, q);
  }
  return q;
}

function num(n: number): string {
  if (!Number.isFinite(n)) throw new CanonicalEncodingError(`non-finite number ${n}`);
  return Object.is(n, -0) ? '0' : String(n);
}

function nullableString(s: string | null): string {
  return s === null ? 'null' : quote(s);
}

/**
 * The call stack, encoded incrementally: `prefix[i]` is the encoding of its first i frames
 * without the closing bracket, valid while those frames equal `frames[0..i)`. A chain pushes and
 * pops frames at its end, so the next stack usually shares all but its last frames.
 */
class StackEncoder {
  private frames: string[] = [];
  private prefix: string[] = ['['];
  private whole = '[]';

  encode(stack: readonly string[]): string {
    const known = this.frames;
    let same = 0;
    const n = Math.min(known.length, stack.length);
    while (same < n && known[same] === stack[same]) same++;
    if (same === stack.length && same === known.length) return this.whole;
    known.length = same;
    this.prefix.length = same + 1;
    for (let i = same; i < stack.length; i++) {
      const f = stack[i];
      if (typeof f !== 'string') {
        // not a stack of names: no shortcut, and nothing remembered from it
        this.frames = [];
        this.prefix = ['['];
        this.whole = '[]';
        return canonicalJson(stack);
      }
      known.push(f);
      this.prefix.push(this.prefix[i] + (i === 0 ? '' : ',') + quote(f));
    }
    this.whole = this.prefix[stack.length] + ']';
    return this.whole;
  }
}

class LocksEncoder {
  private last: HeldLock[] = [];
  private encoded = '[]';

  encode(locks: readonly HeldLock[]): string {
    const last = this.last;
    if (locks.length === last.length) {
      let i = 0;
      while (i < locks.length && locks[i].at === last[i].at && locks[i].name === last[i].name) i++;
      if (i === locks.length) return this.encoded;
    }
    let out = '[';
    for (let i = 0; i < locks.length; i++) {
      const l = locks[i];
      out += (i === 0 ? '{"at":' : ',{"at":') + quote(l.at) + ',"name":' + quote(l.name) + '}';
    }
    this.last = locks.map((l) => ({ at: l.at, name: l.name }));
    this.encoded = out + ']';
    return this.encoded;
  }
}

class TaskEncoder {
  private last: TaskRef = { comm: '', kthread: false, pid: Number.NaN };
  private encoded = '';

  encode(t: TaskRef): string {
    const l = this.last;
    if (t.pid === l.pid && t.comm === l.comm && t.kthread === l.kthread) return this.encoded;
    this.last = { comm: t.comm, kthread: t.kthread, pid: t.pid };
    this.encoded =
      '{"comm":' + quote(t.comm) + ',"kthread":' + bool(t.kthread) + ',"pid":' + num(t.pid) + '}';
    return this.encoded;
  }
}

class GlobalsEncoder {
  private last: KernelGlobals = { panicked: false, prevJiffy: Number.NaN, taintWarn: false };
  private encoded = '';

  encode(g: KernelGlobals): string {
    const l = this.last;
    if (g.prevJiffy === l.prevJiffy && g.panicked === l.panicked && g.taintWarn === l.taintWarn) {
      return this.encoded;
    }
    this.last = { panicked: g.panicked, prevJiffy: g.prevJiffy, taintWarn: g.taintWarn };
    this.encoded =
      '{"panicked":' +
      bool(g.panicked) +
      ',"prevJiffy":' +
      num(g.prevJiffy) +
      ',"taintWarn":' +
      bool(g.taintWarn) +
      '}';
    return this.encoded;
  }
}

function bool(b: boolean): string {
  if (typeof b !== 'boolean')
    throw new CanonicalEncodingError(`expected a boolean, got ${typeof b}`);
  return b ? 'true' : 'false';
}

/**
 * (Violations, run.start and run.end are rare: canonicalJson encodes them.)
 *
 * The keys each hand-written encoder below writes, in code-point order. A key added to one of
 * these interfaces and not listed here fails to compile, so no field can be dropped silently.
 */
function allKeys<T>() {
  return <const K extends readonly (keyof T)[]>(
    keys: K & (Exclude<keyof T, K[number]> extends never ? unknown : never),
  ): K => keys;
}
allKeys<ExecContext>()([
  'cpu',
  'globals',
  'irqsDisabled',
  'jiffies',
  'locks',
  'nonBlockCount',
  'preemptCount',
  'preemptDisableIp',
  'stack',
  'task',
]);
allKeys<TaskRef>()(['comm', 'kthread', 'pid']);
allKeys<HeldLock>()(['at', 'name']);
allKeys<KernelGlobals>()(['panicked', 'prevJiffy', 'taintWarn']);
allKeys<PrintkLine>()(['jiffies', 'level', 'text']);
allKeys<TraceEntry>()(['detail', 'what']);
allKeys<CallPayload>()(['args', 'armed', 'ctx', 'fn', 'from', 'log', 'to', 'trace']);
allKeys<StimulusPayload>()(['args', 'armed', 'ctx', 'fn', 'log', 'step', 'to', 'trace']);
allKeys<ReturnPayload>()(['armed', 'fn', 'from', 'globals', 'log', 'ret', 'to', 'trace']);

/** Encodes payloads of the events of one run or many; its caches only ever save work. */
export class PayloadEncoder {
  private readonly stack = new StackEncoder();
  private readonly locks = new LocksEncoder();
  private readonly task = new TaskEncoder();
  private readonly globals = new GlobalsEncoder();
  /** the previous context: its parts' encodings (compared by identity), scalars and encoding */
  private lastContext: {
    globals: string;
    locks: string;
    stack: string;
    task: string;
    cpu: number;
    jiffies: number;
    irqsDisabled: boolean;
    nonBlockCount: number;
    preemptCount: number;
    preemptDisableIp: string | null;
    encoded: string;
  } | null = null;

  /** canonicalJson(payload), for a payload of the given event type. */
  encode<T extends EventType>(type: T, payload: PayloadMap[T]): string {
    switch (type) {
      case 'call':
        return this.call(payload as CallPayload);
      case 'step':
      case 'timer':
        return this.stimulus(payload as StimulusPayload);
      case 'return':
        return this.return(payload as ReturnPayload);
      default:
        return canonicalJson(payload);
    }
  }

  /**
   * The sub-encoders return the very same string while their part is unchanged, so a context
   * equal to the previous one (a notifier chain calling every subscriber in turn) is one compare
   * per field and the previous encoding.
   */
  context(c: ExecContext): string {
    const globals = this.globals.encode(c.globals);
    const locks = this.locks.encode(c.locks);
    const stack = this.stack.encode(c.stack);
    const task = this.task.encode(c.task);
    const l = this.lastContext;
    if (
      l !== null &&
      l.globals === globals &&
      l.locks === locks &&
      l.stack === stack &&
      l.task === task &&
      l.cpu === c.cpu &&
      l.jiffies === c.jiffies &&
      l.irqsDisabled === c.irqsDisabled &&
      l.nonBlockCount === c.nonBlockCount &&
      l.preemptCount === c.preemptCount &&
      l.preemptDisableIp === c.preemptDisableIp
    ) {
      return l.encoded;
    }
    const encoded =
      '{"cpu":' +
      num(c.cpu) +
      ',"globals":' +
      globals +
      ',"irqsDisabled":' +
      bool(c.irqsDisabled) +
      ',"jiffies":' +
      num(c.jiffies) +
      ',"locks":' +
      locks +
      ',"nonBlockCount":' +
      num(c.nonBlockCount) +
      ',"preemptCount":' +
      num(c.preemptCount) +
      ',"preemptDisableIp":' +
      nullableString(c.preemptDisableIp) +
      ',"stack":' +
      stack +
      ',"task":' +
      task +
      '}';
    this.lastContext = {
      globals,
      locks,
      stack,
      task,
      cpu: c.cpu,
      jiffies: c.jiffies,
      irqsDisabled: c.irqsDisabled,
      nonBlockCount: c.nonBlockCount,
      preemptCount: c.preemptCount,
      preemptDisableIp: c.preemptDisableIp,
      encoded,
    };
    return encoded;
  }

  // Members in code-point order. Optional members before the first required one end with a
  // comma, those after it start with one, so no payload needs its commas fixed up afterwards.

  private call(p: CallPayload): string {
    return (
      '{' +
      before('"args":', p.args) +
      armed(p.armed) +
      '"ctx":' +
      this.context(p.ctx) +
      ',"fn":' +
      quote(p.fn) +
      ',"from":' +
      quote(p.from) +
      log(p.log) +
      ',"to":' +
      quote(p.to) +
      trace(p.trace) +
      '}'
    );
  }

  private stimulus(p: StimulusPayload): string {
    return (
      '{' +
      before('"args":', p.args) +
      armed(p.armed) +
      '"ctx":' +
      this.context(p.ctx) +
      ',"fn":' +
      quote(p.fn) +
      log(p.log) +
      ',"step":' +
      (p.step === null ? 'null' : num(p.step)) +
      ',"to":' +
      quote(p.to) +
      trace(p.trace) +
      '}'
    );
  }

  private return(p: ReturnPayload): string {
    return (
      '{' +
      armed(p.armed) +
      '"fn":' +
      quote(p.fn) +
      ',"from":' +
      quote(p.from) +
      ',"globals":' +
      this.globals.encode(p.globals) +
      log(p.log) +
      (p.ret === undefined ? '' : ',"ret":' + value(p.ret)) +
      ',"to":' +
      quote(p.to) +
      trace(p.trace) +
      '}'
    );
  }
}

/** An optional member placed before the first required one: `"key":value,` or nothing. */
function before(key: string, v: unknown): string {
  return v === undefined ? '' : key + value(v) + ',';
}

function armed(entries: ArmedTimerEntry[] | undefined): string {
  return entries === undefined ? '' : '"armed":' + canonicalJson(entries) + ',';
}

function log(lines: PrintkLine[] | undefined): string {
  if (lines === undefined) return '';
  let out = ',"log":[';
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    out +=
      (i === 0 ? '{"jiffies":' : ',{"jiffies":') +
      num(l.jiffies) +
      ',"level":' +
      num(l.level) +
      ',"text":' +
      JSON.stringify(l.text) +
      '}';
  }
  return out + ']';
}

function trace(entries: TraceEntry[] | undefined): string {
  if (entries === undefined) return '';
  let out = ',"trace":[';
  for (let i = 0; i < entries.length; i++) {
    const t = entries[i];
    out +=
      (i === 0 ? '{"detail":' : ',{"detail":') +
      flatObject(t.detail) +
      ',"what":' +
      quote(t.what) +
      '}';
  }
  return out + ']';
}

/** A value of unknown shape: the common scalars directly, anything else through canonicalJson. */
function value(v: unknown): string {
  switch (typeof v) {
    case 'number':
      return num(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object':
      return v === null ? 'null' : canonicalJson(v);
    default:
      return canonicalJson(v);
  }
}

/**
 * A trace detail: usually a plain object of scalars with its keys already in order, written in
 * one pass; anything else (nested values, keys out of order) goes through canonicalJson.
 */
function flatObject(o: object): string {
  if (Object.getPrototypeOf(o) !== Object.prototype) return canonicalJson(o);
  let out = '{';
  let prev = '';
  for (const k in o) {
    if (out.length > 1 && k <= prev) return canonicalJson(o);
    prev = k;
    const v = (o as Record<string, unknown>)[k];
    let enc: string;
    switch (typeof v) {
      case 'number':
        enc = num(v);
        break;
      case 'boolean':
        enc = v ? 'true' : 'false';
        break;
      case 'string':
        enc = JSON.stringify(v);
        break;
      default:
        if (v === null) enc = 'null';
        else return canonicalJson(o);
    }
    out += (out.length > 1 ? ',' : '') + quote(k) + ':' + enc;
  }
  return out + '}';
}

const shared = new PayloadEncoder();

/** The canonical encoding of an event's payload (equal to canonicalJson(payload)). */
export function encodePayload<T extends EventType>(type: T, payload: PayloadMap[T]): string {
  return shared.encode(type, payload);
}
