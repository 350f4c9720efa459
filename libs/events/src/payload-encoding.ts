/**
 * The canonical encoding of events, written out per payload type into a {@link CanonicalWriter}:
 * the same bytes as {@link canonicalJson}, at a fraction of the cost. Every message carries the
 * caller's execution context, more than half of a log's bytes, and within a chain consecutive
 * contexts differ in a frame or a lock at most: its call stack, held locks, task and kernel
 * globals are encoded once and their bytes reused while they stay equal (compared field by
 * field, never trusted by identity, since the context is live and mutated between events). The
 * keys of the envelope and of each payload type are written in code-point order here rather than
 * discovered and checked per event; arguments, return values and trace details go through the
 * writer's generic encoding.
 *
 * The spec checks this against the sorting definition on every event of every built-in and
 * generated run.
 */
import type { ExecContext, HeldLock, KernelGlobals, PrintkLine, TaskRef } from '@mnsim/kernel';
import { CanonicalWriter, EncodingSlot } from './canonical-writer.js';
import type {
  ArmedTimerEntry,
  CallPayload,
  PayloadMap,
  ReturnPayload,
  StimulusPayload,
  TraceEntry,
} from './payloads.js';
import type { CanonicalEvent, EventType } from './types.js';

/**
 * The encodings of the last few distinct values of one part of the execution context (call
 * stack, held locks, task, kernel globals), reused while a part equals one of them. Equality is
 * checked field by field against a copy, never trusted by identity: the context is live and
 * mutated between events. A few entries rather than one because a notifier chain alternates
 * between a handful of contexts (the range_start and range_end paths, the stimulus, the reaper).
 */
class RecentParts<T, C = T> {
  private readonly copies: (C | undefined)[];
  private readonly slots: EncodingSlot[];
  /** the entry a miss overwrites next (round robin) */
  private victim = 0;
  /** the entry found last: consecutive events mostly share their parts */
  private recent = 0;

  constructor(
    size: number,
    private readonly equal: (part: T, copy: C) => boolean,
    private readonly copy: (part: T) => C,
    private readonly encode: (w: CanonicalWriter, part: T) => void,
  ) {
    this.copies = new Array<C | undefined>(size).fill(undefined);
    this.slots = Array.from({ length: size }, () => new EncodingSlot());
  }

  /**
   * The slot holding `part`'s encoding. On a miss the part is encoded past the writer's end, taken
   * into the oldest entry, and the writer rewound: nothing is left written.
   */
  slotFor(w: CanonicalWriter, part: T): EncodingSlot {
    const copies = this.copies;
    const recent = copies[this.recent];
    if (recent !== undefined && this.equal(part, recent)) return this.slots[this.recent];
    for (let i = 0; i < copies.length; i++) {
      const c = copies[i];
      if (i !== this.recent && c !== undefined && this.equal(part, c)) {
        this.recent = i;
        return this.slots[i];
      }
    }
    const i = this.victim;
    this.recent = i;
    this.victim = (i + 1) % copies.length;
    const start = w.pos;
    this.encode(w, part);
    copies[i] = this.copy(part);
    this.slots[i].take(w, start);
    w.pos = start;
    return this.slots[i];
  }

  write(w: CanonicalWriter, part: T): void {
    this.slotFor(w, part).writeTo(w);
  }
}

/** How many distinct values of each context part, and whole contexts, are kept encoded. */
const RECENT_PARTS = 8;

function stackCache(): RecentParts<readonly string[]> {
  return new RecentParts(
    RECENT_PARTS,
    (a, b) => {
      if (a.length !== b.length) return false;
      // the innermost frames differ first
      for (let i = a.length - 1; i >= 0; i--) if (a[i] !== b[i]) return false;
      return true;
    },
    (stack) => stack.slice(),
    (w, stack) => {
      w.byte(0x5b);
      for (let i = 0; i < stack.length; i++) {
        if (i > 0) w.byte(0x2c);
        const f = stack[i];
        // frame names recur: their bytes are cached (anything else is written as it is)
        if (typeof f === 'string') w.quoted(f);
        else w.value(f);
      }
      w.byte(0x5d);
    },
  );
}

function locksCache(): RecentParts<readonly HeldLock[]> {
  return new RecentParts(
    RECENT_PARTS,
    (a, b) => {
      if (a.length !== b.length) return false;
      for (let i = a.length - 1; i >= 0; i--) {
        if (a[i].at !== b[i].at || a[i].name !== b[i].name) return false;
      }
      return true;
    },
    (locks) => locks.map((l) => ({ at: l.at, name: l.name })),
    (w, locks) => {
      w.byte(0x5b);
      for (let i = 0; i < locks.length; i++) {
        w.ascii(i === 0 ? '{"at":' : ',{"at":');
        w.quoted(locks[i].at);
        w.ascii(',"name":');
        w.quoted(locks[i].name);
        w.byte(0x7d);
      }
      w.byte(0x5d);
    },
  );
}

function taskCache(): RecentParts<TaskRef> {
  return new RecentParts(
    RECENT_PARTS,
    (a, b) => a.pid === b.pid && a.comm === b.comm && a.kthread === b.kthread,
    (t) => ({ comm: t.comm, kthread: t.kthread, pid: t.pid }),
    (w, t) => {
      w.ascii('{"comm":');
      w.string(t.comm);
      w.ascii(',"kthread":');
      w.boolean(t.kthread);
      w.ascii(',"pid":');
      w.number(t.pid);
      w.byte(0x7d);
    },
  );
}

function globalsCache(): RecentParts<KernelGlobals> {
  return new RecentParts(
    RECENT_PARTS,
    (a, b) =>
      a.prevJiffy === b.prevJiffy && a.panicked === b.panicked && a.taintWarn === b.taintWarn,
    (g) => ({ panicked: g.panicked, prevJiffy: g.prevJiffy, taintWarn: g.taintWarn }),
    (w, g) => {
      w.ascii('{"panicked":');
      w.boolean(g.panicked);
      w.ascii(',"prevJiffy":');
      w.number(g.prevJiffy);
      w.ascii(',"taintWarn":');
      w.boolean(g.taintWarn);
      w.byte(0x7d);
    },
  );
}

/** A context to encode: the live context, and its parts' encodings (looked up already). */
interface ContextKey {
  c: ExecContext;
  globals: EncodingSlot;
  locks: EncodingSlot;
  stack: EncodingSlot;
  task: EncodingSlot;
}

/** What identifies an encoded context: its scalars and the versions of its parts' encodings. */
interface ContextCopy {
  cpu: number;
  jiffies: number;
  irqsDisabled: boolean;
  nonBlockCount: number;
  preemptCount: number;
  preemptDisableIp: string | null;
  globals: number;
  locks: number;
  stack: number;
  task: number;
}

/**
 * Whole contexts: one equal to one of the last few encoded (a notifier chain calling every
 * subscriber in turn, and going back and forth between its paths) is one compare per field and
 * one copy. A part's encoding is named by its slot's version, which no other encoding ever has.
 */
function contextCache(): RecentParts<ContextKey, ContextCopy> {
  return new RecentParts<ContextKey, ContextCopy>(
    RECENT_PARTS,
    (k, e) =>
      e.stack === k.stack.version &&
      e.jiffies === k.c.jiffies &&
      e.locks === k.locks.version &&
      e.preemptCount === k.c.preemptCount &&
      e.nonBlockCount === k.c.nonBlockCount &&
      e.cpu === k.c.cpu &&
      e.task === k.task.version &&
      e.globals === k.globals.version &&
      e.irqsDisabled === k.c.irqsDisabled &&
      e.preemptDisableIp === k.c.preemptDisableIp,
    (k) => ({
      cpu: k.c.cpu,
      jiffies: k.c.jiffies,
      irqsDisabled: k.c.irqsDisabled,
      nonBlockCount: k.c.nonBlockCount,
      preemptCount: k.c.preemptCount,
      preemptDisableIp: k.c.preemptDisableIp,
      globals: k.globals.version,
      locks: k.locks.version,
      stack: k.stack.version,
      task: k.task.version,
    }),
    (w, { c, globals, locks, stack, task }) => {
      w.ascii('{"cpu":');
      w.number(c.cpu);
      w.ascii(',"globals":');
      globals.writeTo(w);
      w.ascii(',"irqsDisabled":');
      w.boolean(c.irqsDisabled);
      w.ascii(',"jiffies":');
      w.number(c.jiffies);
      w.ascii(',"locks":');
      locks.writeTo(w);
      w.ascii(',"nonBlockCount":');
      w.number(c.nonBlockCount);
      w.ascii(',"preemptCount":');
      w.number(c.preemptCount);
      w.ascii(',"preemptDisableIp":');
      if (c.preemptDisableIp === null) w.ascii('null');
      else w.quoted(c.preemptDisableIp);
      w.ascii(',"stack":');
      stack.writeTo(w);
      w.ascii(',"task":');
      task.writeTo(w);
      w.byte(0x7d);
    },
  );
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

/** Encodes the events of one run or many into a writer; its caches only ever save work. */
export class EventEncoder {
  readonly writer = new CanonicalWriter();
  private readonly stack = stackCache();
  private readonly locks = locksCache();
  private readonly task = taskCache();
  private readonly globals = globalsCache();
  private readonly contexts = contextCache();

  /** canonicalJson(payload), for a payload of the given event type. */
  payload<T extends EventType>(type: T, payload: PayloadMap[T]): string {
    const w = this.writer;
    w.reset();
    this.writePayload(type, payload);
    return w.text();
  }

  /**
   * The event's canonical line (libs/events `canonicalEventLine`), in the writer from 0 to
   * writer.pos; returns where its payload starts and ends, for a caller that wants it as text.
   */
  line<T extends EventType>(
    e: Omit<CanonicalEvent, 'payload' | 'type'> & { type: T },
    payload: PayloadMap[T],
  ): { payloadStart: number; payloadEnd: number } {
    const w = this.writer;
    w.reset();
    w.ascii('{"causationId":');
    if (e.causationId === null) w.ascii('null');
    else w.string(e.causationId);
    w.ascii(',"id":');
    w.string(e.id);
    w.ascii(',"jiffies":');
    w.number(e.jiffies);
    w.ascii(',"payload":');
    const payloadStart = w.pos;
    this.writePayload(e.type, payload);
    const payloadEnd = w.pos;
    w.ascii(',"seq":');
    w.number(e.seq);
    w.ascii(',"type":');
    w.quoted(e.type);
    w.byte(0x7d);
    return { payloadStart, payloadEnd };
  }

  private writePayload<T extends EventType>(type: T, payload: PayloadMap[T]): void {
    switch (type) {
      case 'call': {
        const call = payload as CallPayload;
        this.invocation(call, { from: call.from });
        return;
      }
      case 'step':
      case 'timer': {
        const stimulus = payload as StimulusPayload;
        this.invocation(stimulus, { step: stimulus.step });
        return;
      }
      case 'return':
        this.return(payload as ReturnPayload);
        return;
      default:
        this.writer.value(payload);
    }
  }

  /** A context: its parts' cached encodings (each looked up by value), then the whole's. */
  private writeContext(c: ExecContext): void {
    const w = this.writer;
    this.contexts.write(w, {
      c,
      globals: this.globals.slotFor(w, c.globals),
      locks: this.locks.slotFor(w, c.locks),
      stack: this.stack.slotFor(w, c.stack),
      task: this.task.slotFor(w, c.task),
    });
  }

  // Members in code-point order. Optional members before the first required one end with a
  // comma, those after it start with one.

  /**
   * A call or a stimulus (step, timer): the same members, but a call names its caller (`from`,
   * before `log`) and a stimulus its scenario step (`step`, after `log`).
   */
  private invocation(
    p: CallPayload | StimulusPayload,
    own: { from: CallPayload['from'] } | { step: StimulusPayload['step'] },
  ): void {
    const w = this.writer;
    w.byte(0x7b);
    this.before('"args":', p.args);
    this.armed(p.armed);
    w.ascii('"ctx":');
    this.writeContext(p.ctx);
    w.ascii(',"fn":');
    w.quoted(p.fn);
    if ('from' in own) {
      w.ascii(',"from":');
      w.quoted(own.from);
    }
    this.log(p.log);
    if ('step' in own) {
      w.ascii(',"step":');
      if (own.step === null) w.ascii('null');
      else w.number(own.step);
    }
    w.ascii(',"to":');
    w.quoted(p.to);
    this.trace(p.trace);
    w.byte(0x7d);
  }

  private return(p: ReturnPayload): void {
    const w = this.writer;
    w.byte(0x7b);
    this.armed(p.armed);
    w.ascii('"fn":');
    w.quoted(p.fn);
    w.ascii(',"from":');
    w.quoted(p.from);
    w.ascii(',"globals":');
    this.globals.write(w, p.globals);
    this.log(p.log);
    if (p.ret !== undefined) {
      w.ascii(',"ret":');
      w.value(p.ret);
    }
    w.ascii(',"to":');
    w.quoted(p.to);
    this.trace(p.trace);
    w.byte(0x7d);
  }

  /** An optional member placed before the first required one: `"key":value,` or nothing. */
  private before(key: string, v: unknown): void {
    if (v === undefined) return;
    this.writer.ascii(key);
    this.writer.value(v);
    this.writer.byte(0x2c);
  }

  private armed(entries: ArmedTimerEntry[] | undefined): void {
    if (entries === undefined) return;
    this.writer.ascii('"armed":');
    this.writer.value(entries);
    this.writer.byte(0x2c);
  }

  private log(lines: PrintkLine[] | undefined): void {
    if (lines === undefined) return;
    const w = this.writer;
    w.ascii(',"log":[');
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i];
      w.ascii(i === 0 ? '{"jiffies":' : ',{"jiffies":');
      w.number(l.jiffies);
      w.ascii(',"level":');
      w.number(l.level);
      w.ascii(',"text":');
      w.string(l.text);
      w.byte(0x7d);
    }
    w.byte(0x5d);
  }

  private trace(entries: TraceEntry[] | undefined): void {
    if (entries === undefined) return;
    const w = this.writer;
    w.ascii(',"trace":[');
    for (let i = 0; i < entries.length; i++) {
      const t = entries[i];
      w.ascii(i === 0 ? '{"detail":' : ',{"detail":');
      w.value(t.detail);
      w.ascii(',"what":');
      w.quoted(t.what);
      w.byte(0x7d);
    }
    w.byte(0x5d);
  }
}

const shared = new EventEncoder();

/** The canonical encoding of an event's payload (equal to canonicalJson(payload)). */
export function encodePayload<T extends EventType>(type: T, payload: PayloadMap[T]): string {
  return shared.payload(type, payload);
}
