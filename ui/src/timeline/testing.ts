/**
 * A small handle on each timeline for the browser tests and the benchmark, which cannot look
 * into a canvas: `window.__mnsimTimelines[name]` for each timeline on the page (`run`, and
 * `replay` under it once a counterfactual has been replayed), `window.__mnsimTimeline` for the
 * run's. Positions are css px from the canvas' top-left corner, so that a test can click there
 * (`locator('[data-testid="timeline"] canvas').click({ position })`).
 *
 * The page's other hooks, as attributes:
 * - `[data-testid=timeline]` (the replay's: `timeline-replay`): the canvas' box, with
 *   `data-events`, `data-findings`, `data-selected` (a seq) and `data-ready="true"` once drawn;
 *   the toolbar's buttons `zoom-in`, `zoom-out`, `zoom-fit`, `pan-left`, `pan-right`,
 *   `previous-finding`, `next-finding`; in the box, `[data-testid=timeline-hint]`, which says
 *   "Ctrl + wheel to zoom" for a moment after the page's first plain wheel over a timeline;
 * - `[data-testid=context-panel]` (`data-seq`), its values by `[data-field=…]`: type, seq,
 *   jiffies, fn, from, to, args, ret, signature, kind, site, reported, task, comm, pid,
 *   preemptCount, nonBlock, irqsDisabled, locks and stack (with `data-count`);
 * - `[data-testid=kernel-log]`: an entry per event that printed, `[data-seq]`, a splat's with
 *   `data-splat="true"`; a click selects the event;
 * - `[data-testid=counterfactual]` (`data-state`: idle, loading, error, ready), its selects
 *   `counterfactual-kernel` and `counterfactual-arch`, `[data-testid=removed]` and
 *   `[data-testid=added]` with `data-count` and a `[data-seq]` per finding, and
 *   `[data-testid=counterfactual-summary]` with `[data-field=matches]` (`data-matches`) and
 *   `[data-field=logHash]`; `?against=<variant>&arch=<arch>` in the URL replays at once;
 * - performance entries: the mark `mnsim:timeline:events` (the events are in), the measure
 *   `mnsim:timeline:model` (the geometry built) and the mark `mnsim:timeline:<name>:drawn`
 *   (its first frame drawn).
 */
import type { FindingKind } from './model';

export interface TimelineTestApi {
  /** the seqs of the events in the visible part of the axis, in order */
  eventsInView(): number[];
  /** selects an event as a click on it does, and brings it into view */
  select(seq: number): void;
  /** the selected event's seq, or null */
  selected(): number | null;
  /** each finding's mark: where it is drawn and whether that is in view */
  marks(): { seq: number; kind: FindingKind; x: number; y: number; visible: boolean }[];
  /** where an event is drawn, or null for a seq the run does not have */
  positionOf(seq: number): { x: number; y: number } | null;
  /** the view: the slot at the left edge, css px per slot, the axis' slots */
  view(): { x0: number; scale: number; slots: number };
  /** frames drawn so far, and how long the first and the last took to draw (ms) */
  stats(): { frames: number; firstDrawMs: number; lastDrawMs: number };
}

declare global {
  interface Window {
    __mnsimTimelines?: Record<string, TimelineTestApi>;
    __mnsimTimeline?: TimelineTestApi;
  }
}

/** Publishes a timeline's handle; the returned function withdraws it. */
export function publishTimeline(name: string, handle: TimelineTestApi): () => void {
  const all = (window.__mnsimTimelines ??= {});
  all[name] = handle;
  if (name === 'run') window.__mnsimTimeline = handle;
  return () => {
    if (all[name] === handle) delete all[name];
    if (window.__mnsimTimeline === handle) delete window.__mnsimTimeline;
  };
}
