/**
 * A run's events for its timeline. A finished run's seqs are 0 … events-1, so its pages can be
 * asked for at once (four at a time) instead of one after the other; anything unexpected (a run
 * still writing, a gap) falls back to reading page after page.
 */
import { type RunEvent, allEvents, api } from '../api';

const PAGE = 1000;
const PARALLEL = 4;

export async function loadRunEvents(
  runId: string,
  total: number,
  finished: boolean,
  onProgress?: (read: number) => void,
): Promise<RunEvent[]> {
  if (!finished || total <= PAGE) return allEvents(runId, onProgress);
  const pages = Math.ceil(total / PAGE);
  const out: RunEvent[][] = new Array<RunEvent[]>(pages);
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
