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
import type { CanonicalEvent } from './log.js';
import type { EventType } from './types.js';

/**
 * One part of the execution context (call stack, held locks, task, kernel globals): its
 * encoding is reused while the part equals the one encoded last. Equality is checked field by
 * field against a copy, never trusted by identity: the context is live and mutated between
 * events. Within a chain consecutive contexts differ in a frame or a lock at most.
 */
class PartCache<T> {
  private last: T | null = null;
  private readonly slot = new EncodingSlot();

  constructor(
    private readonly equal: (a: T, b: T) => boolean,
    private readonly copy: (part: T) => T,
    private readonly encode: (w: CanonicalWriter, part: T) => void,
  ) {}

  /** changes whenever the cached encoding does */
  get version(): number {
    return this.slot.version;
  }

  /** Whether `part` is the one encoded last. */
  hit(part: T): boolean {
    return this.last !== null && this.equal(part, this.last);
  }

  write(w: CanonicalWriter, part: T): void {
    if (this.hit(part)) {
      this.slot.writeTo(w);
      return;
    }
    const start = w.pos;
    this.encode(w, part);
    this.last = this.copy(part);
    this.slot.take(w, start);
  }
}

function stackCache(): PartCache<readonly string[]> {
  return new PartCache(
    (a, b) => a.length === b.length && a.every((f, i) => f === b[i]),
    (stack) => stack.slice(),
    (w, stack) => w.value(stack),
  );
}

function locksCache(): PartCache<readonly HeldLock[]> {
  return new PartCache(
    (a, b) => a.length === b.length && a.every((l, i) => l.at === b[i].at && l.name === b[i].name),
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

function taskCache(): PartCache<TaskRef> {
  return new PartCache(
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

function globalsCache(): PartCache<KernelGlobals> {
  return new PartCache(
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
  /** the previous context: the versions of its parts' encodings, its scalars, its encoding */
  private readonly context = new EncodingSlot();
  private last: {
    globals: number;
    locks: number;
    stack: number;
    task: number;
    cpu: number;
    jiffies: number;
    irqsDisabled: boolean;
    nonBlockCount: number;
    preemptCount: number;
    preemptDisableIp: string | null;
  } | null = null;

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

  /**
   * The sub-caches hand back the very same bytes while their part is unchanged, so a context
   * equal to the previous one (a notifier chain calling every subscriber in turn) is one compare
   * per field and one copy.
   */
  private writeContext(c: ExecContext): void {
    const w = this.writer;
    const l = this.last;
    if (
      l !== null &&
      l.cpu === c.cpu &&
      l.jiffies === c.jiffies &&
      l.irqsDisabled === c.irqsDisabled &&
      l.nonBlockCount === c.nonBlockCount &&
      l.preemptCount === c.preemptCount &&
      l.preemptDisableIp === c.preemptDisableIp &&
      // a part's cache may have moved on since (a return's globals): the versions must match
      this.globals.hit(c.globals) &&
      this.globals.version === l.globals &&
      this.locks.hit(c.locks) &&
      this.locks.version === l.locks &&
      this.stack.hit(c.stack) &&
      this.stack.version === l.stack &&
      this.task.hit(c.task) &&
      this.task.version === l.task
    ) {
      this.context.writeTo(w);
      return;
    }
    const start = w.pos;
    w.ascii('{"cpu":');
    w.number(c.cpu);
    w.ascii(',"globals":');
    this.globals.write(w, c.globals);
    w.ascii(',"irqsDisabled":');
    w.boolean(c.irqsDisabled);
    w.ascii(',"jiffies":');
    w.number(c.jiffies);
    w.ascii(',"locks":');
    this.locks.write(w, c.locks);
    w.ascii(',"nonBlockCount":');
    w.number(c.nonBlockCount);
    w.ascii(',"preemptCount":');
    w.number(c.preemptCount);
    w.ascii(',"preemptDisableIp":');
    if (c.preemptDisableIp === null) w.ascii('null');
    else w.quoted(c.preemptDisableIp);
    w.ascii(',"stack":');
    this.stack.write(w, c.stack);
    w.ascii(',"task":');
    this.task.write(w, c.task);
    w.byte(0x7d);
    this.last = {
      globals: this.globals.version,
      locks: this.locks.version,
      stack: this.stack.version,
      task: this.task.version,
      cpu: c.cpu,
      jiffies: c.jiffies,
      irqsDisabled: c.irqsDisabled,
      nonBlockCount: c.nonBlockCount,
      preemptCount: c.preemptCount,
      preemptDisableIp: c.preemptDisableIp,
    };
    this.context.take(w, start);
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
