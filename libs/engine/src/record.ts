/**
 * The event log of an embedded run written through a store sink: every event with its canonical
 * payload, and every violation event also into the violations projection.
 */
import type { EventSink } from '@mnsim/store';
import { type Json, runEventOf, violationWithSeq } from '@mnsim/events';
import type { EmittedEvent } from '@mnsim/runtime';

export function recordInto(
  sink: EventSink,
  runId: string,
): (e: EmittedEvent, encodedPayload: string) => void {
  let recordedAt = new Date().toISOString();
  let sinceClock = 0;
  return (e, encodedPayload) => {
    // the wall clock is metadata: read it every 1,024 events, not for each one
    if (++sinceClock === 1024) {
      sinceClock = 0;
      recordedAt = new Date().toISOString();
    }
    sink.append(runEventOf(runId, e, e.payload as unknown as Json, recordedAt), encodedPayload);
    if (e.type === 'violation') {
      const v = (e as EmittedEvent<'violation'>).payload.violation;
      sink.appendViolation(e.id, violationWithSeq(e.seq, v), recordedAt);
    }
  };
}
