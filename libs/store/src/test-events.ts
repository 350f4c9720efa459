import { type Json, LogInterner, type RunEvent, envelopeOf } from '@mnsim/events';
import type { EventToAppend } from './types.js';

/**
 * For tests: made-up events as a writer appends them, with their lines of the run's format 2 log.
 * Each run's events are interned in the order they are first given (give them in seq order, as
 * every writer does); an event given again gets the lines it got the first time.
 */
export class TestLogs {
  private readonly runs = new Map<
    string,
    { interner: LogInterner; lines: Map<number, string[]> }
  >();

  /** the event to append, and the payload it was made with */
  toAppend(e: RunEvent): EventToAppend & { payload: Json } {
    let run = this.runs.get(e.runId);
    if (run === undefined) {
      run = { interner: new LogInterner(), lines: new Map() };
      this.runs.set(e.runId, run);
    }
    let lines = run.lines.get(e.seq);
    if (lines === undefined) {
      lines = [];
      run.interner.push(e, lines);
      run.lines.set(e.seq, lines);
    }
    return { event: envelopeOf(e.runId, e, e.recordedAt), lines, payload: e.payload };
  }
}
