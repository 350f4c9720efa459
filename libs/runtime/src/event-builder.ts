/**
 * How a chain's events are built, shared by the in-process driver and the distributed workers
 * so both emit the same bytes: seq is the run's emission order, and what was printed, traced or
 * armed since the last event rides on the next one. The payloads are built with their keys
 * inserted in code-point order (optional ones included), so the canonical encoding is native
 * JSON.stringify with no sorting; no object spread either, which is slow on V8.
 */
import type {
  Address,
  CallName,
  ExecContext,
  KernelGlobals,
  LogLevel,
  PrintkLine,
  TraceDetail,
  ViolationRecord,
} from '@mnsim/kernel';
import {
  type ArmedTimerEntry,
  type CallPayload,
  type EventType,
  type PayloadMap,
  type ReturnPayload,
  type StimulusPayload,
  type TraceEntry,
  type TypedEvent,
  type ViolationPayload,
  TRACE_KEPT_ENTRIES,
  TRACE_SUMMARY,
  encodePayload,
} from '@mnsim/events';
import type { WireEvent } from './messages.js';

/** An event as the builder emits it: its payload typed by its type (@mnsim/events TypedEvent). */
export type EmittedEvent<T extends EventType = EventType> = TypedEvent<T>;

/**
 * Receives each event as it is emitted. The payload may reference the live execution context:
 * encode it before returning.
 */
export type EventSink = (e: EmittedEvent) => void;

/** An event as a message carries it and the store takes it: its payload canonically encoded. */
export function toWireEvent(e: EmittedEvent): WireEvent {
  return {
    id: e.id,
    seq: e.seq,
    type: e.type,
    causationId: e.causationId,
    jiffies: e.jiffies,
    payload: encodePayload(e.type, e.payload),
  };
}

export class EventBuilder {
  /** seq of the next event */
  seq: number;
  private pendingLog: PrintkLine[] = [];
  private pendingTrace: TraceEntry[] = [];
  /** entries traced past TRACE_KEPT_ENTRIES since the last event: counted, not kept */
  private omittedTrace = 0;
  private pendingArmed: ArmedTimerEntry[] = [];

  constructor(
    private readonly sink: EventSink,
    seq = 0,
  ) {
    this.seq = seq;
  }

  emit<T extends EventType>(
    type: T,
    id: string,
    causationId: string | null,
    jiffies: number,
    payload: PayloadMap[T],
  ): void {
    this.sink({ id, seq: this.seq++, type, causationId, jiffies, payload });
  }

  printk(ctx: ExecContext, level: LogLevel, text: string): void {
    this.pendingLog.push({ jiffies: ctx.jiffies, level, text });
  }

  /**
   * A trace entry for the next event. Past TRACE_KEPT_ENTRIES only their number is kept: a walk
   * whose entries grow with the scenario (one per memslot) is summarised, not copied whole.
   */
  trace(what: string, detail: TraceDetail): void {
    if (this.pendingTrace.length < TRACE_KEPT_ENTRIES) this.pendingTrace.push({ detail, what });
    else this.omittedTrace++;
  }

  armed(entry: ArmedTimerEntry): void {
    this.pendingArmed.push(entry);
  }

  /** Taking the attachments clears them. */
  private take(): { armed?: ArmedTimerEntry[]; log?: PrintkLine[]; trace?: TraceEntry[] } {
    const out: { armed?: ArmedTimerEntry[]; log?: PrintkLine[]; trace?: TraceEntry[] } = {};
    if (this.pendingArmed.length > 0) {
      out.armed = this.pendingArmed;
      this.pendingArmed = [];
    }
    if (this.pendingLog.length > 0) {
      out.log = this.pendingLog;
      this.pendingLog = [];
    }
    if (this.pendingTrace.length > 0) {
      if (this.omittedTrace > 0) {
        this.pendingTrace.push({ detail: { omitted: this.omittedTrace }, what: TRACE_SUMMARY });
        this.omittedTrace = 0;
      }
      out.trace = this.pendingTrace;
      this.pendingTrace = [];
    }
    return out;
  }

  stimulusPayload(
    args: unknown,
    ctx: ExecContext,
    fn: CallName,
    step: number | null,
    to: Address,
  ): StimulusPayload {
    const a = this.take();
    const p: Partial<StimulusPayload> = { args };
    if (a.armed) p.armed = a.armed;
    p.ctx = ctx;
    p.fn = fn;
    if (a.log) p.log = a.log;
    p.step = step;
    p.to = to;
    if (a.trace) p.trace = a.trace;
    return p as StimulusPayload;
  }

  callPayload(
    args: unknown,
    ctx: ExecContext,
    fn: CallName,
    from: Address,
    to: Address,
  ): CallPayload {
    const a = this.take();
    const p: Partial<CallPayload> = { args };
    if (a.armed) p.armed = a.armed;
    p.ctx = ctx;
    p.fn = fn;
    p.from = from;
    if (a.log) p.log = a.log;
    p.to = to;
    if (a.trace) p.trace = a.trace;
    return p as CallPayload;
  }

  returnPayload(
    fn: CallName,
    from: Address,
    globals: KernelGlobals,
    ret: unknown,
    to: Address | 'orchestrator',
  ): ReturnPayload {
    const a = this.take();
    const p: Partial<ReturnPayload> = {};
    if (a.armed) p.armed = a.armed;
    p.fn = fn;
    p.from = from;
    p.globals = globals;
    if (a.log) p.log = a.log;
    p.ret = ret;
    p.to = to;
    if (a.trace) p.trace = a.trace;
    return p as ReturnPayload;
  }

  violationPayload(v: ViolationRecord): ViolationPayload {
    const a = this.take();
    const p: Partial<ViolationPayload> = {};
    if (a.armed) p.armed = a.armed;
    if (a.log) p.log = a.log;
    if (a.trace) p.trace = a.trace;
    p.violation = v;
    return p as ViolationPayload;
  }
}
