/**
 * The event envelope. Every message between components is one event of a run's log, plus the
 * violations recorded on the way. Payload shapes per type are defined by the kernel model
 * (`@mnsim/kernel` messages); here they are plain JSON so the store and the transport need not
 * know them.
 */

import { type FindingKind, type ViolationRecord, findingKind } from '@mnsim/kernel';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export const EVENT_TYPES = [
  'run.start', // the normalized scenario, variant and seed: everything a replay needs
  'step', // orchestrator -> component: one scenario step
  'timer', // orchestrator -> component: a timer armed earlier fires (reaper retry, lock release)
  'call', // component -> component: a kernel call crossing components, with the caller's context
  'return', // component -> caller: the return value, the context after, finer trace
  'violation', // a failed ___might_sleep check
  'run.end', // the run's outcome
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface RunEvent {
  runId: string;
  /** derived from causation: `${causationId}.${childIndex}`, roots are `s<step>`/`run` */
  id: string;
  /** position in the run's canonical order, from 0 */
  seq: number;
  type: EventType;
  causationId: string | null;
  /** virtual time */
  jiffies: number;
  payload: Json;
  /** wall clock, ISO 8601 UTC; metadata only, never part of the canonical encoding */
  recordedAt: string;
}

/**
 * An event as a run's log holds it: without its runId and wall clock (log.ts encodes it, and
 * interned-log.ts in format 2). Here, with no Node import, for the dashboard's expander too.
 */
export type CanonicalEvent = Omit<RunEvent, 'runId' | 'recordedAt'>;

/** An event's envelope and when it was recorded: a run event but its payload (the store's unit). */
export type RunEventEnvelope = Omit<RunEvent, 'payload'>;

/** The envelope of an event (as emitted, carried or read), field by field: no spread on the hot path. */
export function envelopeOf(
  runId: string,
  e: Pick<RunEvent, 'id' | 'seq' | 'type' | 'causationId' | 'jiffies'>,
  recordedAt: string,
): RunEventEnvelope {
  return {
    runId,
    id: e.id,
    seq: e.seq,
    type: e.type,
    causationId: e.causationId,
    jiffies: e.jiffies,
    recordedAt,
  };
}

/**
 * One finding, as the design's JSON contract prints it: the kernel's record plus its seq, and its
 * kind always named (a record of an `atomic-sleep` names none).
 */
export type Violation = Omit<ViolationRecord, 'kind'> & { seq: number; kind: FindingKind };

export type RunStatus = 'running' | 'completed' | 'failed';

/** A violation in the contract's key order (design.md, `mnsim run --json`), with the seq of its event. */
export function violationWithSeq(
  seq: number,
  v: Omit<ViolationRecord, 'kind'> & { kind?: FindingKind },
): Violation {
  return {
    seq,
    kind: findingKind(v),
    jiffies: v.jiffies,
    site: v.site,
    inAtomic: v.inAtomic,
    irqsDisabled: v.irqsDisabled,
    nonBlock: v.nonBlock,
    pid: v.pid,
    comm: v.comm,
    reported: v.reported,
    signature: v.signature,
    stack: v.stack,
    text: v.text,
  };
}
