/**
 * The event log of an embedded run written through a store sink: every event with its lines of
 * the run's format 2 log, and every violation event also into the violations projection.
 */
import type { EventSink } from '@mnsim/store';
import { envelopeOf, violationWithSeq } from '@mnsim/events';
import type { EmittedEvent } from '@mnsim/runtime';

export function recordInto(
  sink: EventSink,
  runId: string,
): (e: EmittedEvent, lines: readonly string[]) => void {
  let recordedAt = new Date().toISOString();
  let sinceClock = 0;
  return (e, lines) => {
    // the wall clock is metadata: read it every 1,024 events, not for each one
    if (++sinceClock === 1024) {
      sinceClock = 0;
      recordedAt = new Date().toISOString();
    }
    sink.append(envelopeOf(runId, e, recordedAt), lines);
    if (e.type === 'violation') {
      const v = (e as EmittedEvent<'violation'>).payload.violation;
      sink.appendViolation(e.id, violationWithSeq(e.seq, v), recordedAt);
    }
  };
}
