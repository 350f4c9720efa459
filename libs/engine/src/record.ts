/**
 * The event log of an embedded run written through a store sink: every event with its canonical
 * payload, and every violation event also into the violations projection.
 */
import type { EventSink } from '@mnsim/store';
import type { Json } from '@mnsim/events';
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
    // field by field: object spread is slow on V8 and this runs for every event
    sink.append(
      {
        runId,
        id: e.id,
        seq: e.seq,
        type: e.type,
        causationId: e.causationId,
        jiffies: e.jiffies,
        payload: e.payload as unknown as Json,
        recordedAt,
      },
      encodedPayload,
    );
    if (e.type === 'violation') {
      const v = (e as EmittedEvent<'violation'>).payload.violation;
      sink.appendViolation(e.id, { ...v, seq: e.seq }, recordedAt);
    }
  };
}
