/**
 * A run's events for its timeline. A completed run's are read from its log (GET /runs/:id/log:
 * what `mnsim export` writes, format 2, about a sixth of the bytes of the same events as JSON)
 * and expanded here as its lines arrive, by the expander `mnsim import` and replay use
 * (libs/events). A run with no log yet (409: still running, or failed) is read by its events'
 * pages instead: a finished run's seqs are 0 … events-1, so its pages can be asked for at once
 * (four at a time); anything unexpected (a run still writing, a gap) falls back to reading page
 * after page.
 */
import { LogExpander } from '../../../libs/events/src/interned-log.js';
import { ApiError, type Run, type TimelineEvent, allEvents, api } from '../api';

const PAGE = 1000;
const PARALLEL = 4;

/**
 * The run's events: its log read at once, the run itself (`run()`) only asked for when there is
 * no log to read. `signal` stops reading the log (the page has moved on).
 */
export async function loadRunEvents(
  runId: string,
  run: () => Promise<Run>,
  onProgress?: (read: number) => void,
  signal?: AbortSignal,
): Promise<TimelineEvent[]> {
  try {
    return await loggedEvents(runId, onProgress, signal);
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 409)) throw err;
  }
  const r = await run();
  return pagedEvents(r.runId, r.events, r.status !== 'running', onProgress);
}

/**
 * The events of a completed run's log, expanded as its lines arrive; `onProgress` after each
 * piece read. Its lines are the store's, checked by the server against the run's logHash as it
 * sends them (a log that fails the check fails the transfer), so they are expanded unverified.
 */
async function loggedEvents(
  runId: string,
  onProgress?: (read: number) => void,
  signal?: AbortSignal,
): Promise<TimelineEvent[]> {
  const res = await api.log(runId, signal);
  if (res.body === null) throw new Error('the log came without a body');
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  const expander = new LogExpander({ verify: false });
  // each event as format 1 has it, its seq its position among the events
  const events: TimelineEvent[] = [];
  let header: { events?: unknown } | null = null;
  let rest = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const text = rest + value;
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      const line = text.slice(start, nl);
      start = nl + 1;
      if (header === null) {
        header = JSON.parse(line) as { events?: unknown };
        continue;
      }
      const e = expander.line(line);
      if (e !== null) events.push(e);
    }
    rest = text.slice(start);
    onProgress?.(events.length);
  }
  if (rest !== '') throw new Error('the log ends in the middle of a line');
  expander.end();
  if (header?.events !== events.length) {
    throw new Error(
      `the log has ${events.length} events where its header says ${String(header?.events)}`,
    );
  }
  return events;
}

/** The run's events read from its pages, four at a time when the run is finished. */
async function pagedEvents(
  runId: string,
  total: number,
  finished: boolean,
  onProgress?: (read: number) => void,
): Promise<TimelineEvent[]> {
  if (!finished || total <= PAGE) return allEvents(runId, onProgress);
  const pages = Math.ceil(total / PAGE);
  const out: TimelineEvent[][] = new Array<TimelineEvent[]>(pages);
  let read = 0;
  let next = 0;
  const worker = async () => {
    while (next < pages) {
      const k = next++;
      const page = await api.events(runId, k === 0 ? undefined : k * PAGE - 1, PAGE);
      out[k] = page.events;
      read += page.events.length;
      onProgress?.(read);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, pages) }, worker));
  const events = out.flat();
  if (events.length !== total || events.some((e, i) => e.seq !== i)) {
    return allEvents(runId, onProgress);
  }
  return events;
}
