/**
 * Draws a timeline model on a canvas, and finds what a point of it shows. Only what is in view is
 * drawn: the spans of each row by binary search, the events of the visible slots, the marks in
 * range; thin strokes of one kind go in one path, and what would land on pixels already drawn
 * (zoomed out, many events share a column) is drawn once. Nothing here allocates per event beyond
 * the list of visible indexes.
 */
import {
  JIFFY_GAP,
  type FindingKind,
  type Span,
  type TimelineModel,
  eventsInSlots,
  spansInRange,
} from './model';
import type { TimelineView } from './view';

/** the axis' band at the top (jiffy labels), css px */
export const HEADER = 22;
/** the lane names' column, css px */
export const LABEL_W = 112;
/** a row of spans, and the padding of a lane above and below its rows */
export const ROW_H = 18;
export const LANE_PAD = 7;

export const KIND_COLORS: Record<FindingKind, string> = {
  'atomic-sleep': '#d92d20',
  'notifier-imbalance': '#e47000',
  'guest-livelock': '#8e44d9',
};

export const ARROW_COLORS = {
  step: '#344054',
  timer: '#0e7490',
  call: '#2459c9',
  return: '#98a2b3',
} as const;

const LANE_COLORS: [prefix: string, color: string][] = [
  ['orchestrator', '#667085'],
  ['task', '#2459c9'],
  ['oom', '#b54708'],
  ['mm', '#067647'],
  ['kvm:', '#6941c6'],
];

export function laneColor(name: string): string {
  return LANE_COLORS.find(([p]) => name.startsWith(p))?.[1] ?? '#5b6475';
}

export interface Geometry {
  laneTop: number[];
  laneHeight: number[];
  /** the whole canvas, css px */
  height: number;
}

export function geometryOf(model: TimelineModel): Geometry {
  const laneTop: number[] = [];
  const laneHeight: number[] = [];
  let y = HEADER;
  for (const l of model.lanes) {
    const h = LANE_PAD * 2 + l.rows * ROW_H;
    laneTop.push(y);
    laneHeight.push(h);
    y += h;
  }
  return { laneTop, laneHeight, height: y + 1 };
}

/** The middle of a lane's row. */
export function rowY(g: Geometry, lane: number, row: number): number {
  return g.laneTop[lane] + LANE_PAD + row * ROW_H + ROW_H / 2;
}

/** The middle of a slot, css px from the canvas' left edge. */
export function xOf(view: TimelineView, slot: number): number {
  return LABEL_W + (slot + 0.5 - view.x0) * view.scale;
}

/** The slot (fractional) at css px `x` from the canvas' left edge. */
export function slotAt(view: TimelineView, x: number): number {
  return view.x0 + (x - LABEL_W) / view.scale;
}

const textWidths = new Map<string, number>();
function textWidth(c: CanvasRenderingContext2D, s: string): number {
  let w = textWidths.get(s);
  if (w === undefined) {
    w = c.measureText(s).width;
    if (textWidths.size > 5000) textWidths.clear();
    textWidths.set(s, w);
  }
  return w;
}

/** `s` cut to fit `max` px, with an ellipsis; null when not even a few characters fit. */
function fitText(c: CanvasRenderingContext2D, s: string, max: number): string | null {
  if (max < 24) return null;
  const w = textWidth(c, s);
  if (w <= max) return s;
  const n = Math.floor((s.length * max) / w) - 1;
  return n < 3 ? null : `${s.slice(0, n)}…`;
}

export interface DrawOptions {
  /** css px */
  width: number;
  /** the selected event's index, -1 for none */
  selected: number;
}

const FONT = '11px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace';
const LABEL_FONT = '600 12px system-ui, -apple-system, "Segoe UI", sans-serif';

export function draw(
  c: CanvasRenderingContext2D,
  model: TimelineModel,
  g: Geometry,
  view: TimelineView,
  o: DrawOptions,
): void {
  const { width } = o;
  const height = g.height;
  const scale = view.scale;
  const [va, vb] = view.visible();
  const a = va - 1;
  const b = vb + 1;
  c.clearRect(0, 0, width, height);

  // lanes
  for (let l = 0; l < model.lanes.length; l++) {
    c.fillStyle = l % 2 === 0 ? '#ffffff' : '#f7f8fa';
    c.fillRect(0, g.laneTop[l], width, g.laneHeight[l]);
  }
  c.fillStyle = '#eef1f6';
  c.fillRect(0, 0, width, HEADER);

  c.save();
  c.beginPath();
  c.rect(LABEL_W, 0, width - LABEL_W, height);
  c.clip();

  // jiffy blocks: a line where each begins, its label in the header
  c.font = FONT;
  c.textBaseline = 'middle';
  const blocks = model.axis.blocks;
  let lo = 0;
  let hi = blocks.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (blocks[mid].start + blocks[mid].width < a) lo = mid + 1;
    else hi = mid;
  }
  c.strokeStyle = '#c5ccd8';
  c.lineWidth = 1;
  c.beginPath();
  let labelRight = -Infinity;
  for (let i = lo; i < blocks.length && blocks[i].start <= b; i++) {
    const blk = blocks[i];
    const x = Math.round(LABEL_W + (blk.start - view.x0) * scale) - 0.5;
    // a line where a jiffy begins, unless jiffies are too narrow for lines to say anything
    if ((blk.width + JIFFY_GAP) * scale >= 6) {
      c.moveTo(x, HEADER);
      c.lineTo(x, height);
    }
    const skipped = i > 0 && blocks[i - 1].jiffies !== blk.jiffies - 1;
    const label = `${skipped ? '⋯ ' : ''}jiffy ${blk.jiffies}`;
    const lx = Math.max(x + 3, LABEL_W + 3);
    const w = textWidth(c, label);
    const end = LABEL_W + (blk.start + blk.width - view.x0) * scale;
    // the label fits in its block, or runs on into the next block's room while that one is far
    if (lx > labelRight + 8 && lx + w <= Math.max(end, x + 3 + w)) {
      c.moveTo(x, HEADER - 6);
      c.lineTo(x, HEADER);
      c.fillStyle = '#344054';
      c.fillText(label, lx, HEADER / 2);
      labelRight = lx + w;
    }
  }
  c.stroke();

  // spans: the calls in flight, per lane and row
  const found: Span[] = [];
  const half = scale / 2;
  for (let l = 0; l < model.lanes.length; l++) {
    const color = laneColor(model.lanes[l].name);
    for (let r = 0; r < model.rows[l].length; r++) {
      found.length = 0;
      spansInRange(model.rows[l][r], a, b, found);
      if (found.length === 0) continue;
      const y = rowY(g, l, r) - ROW_H / 2 + 2;
      c.fillStyle = color;
      c.globalAlpha = 0.16;
      // spans less than a pixel apart are one rectangle: zoomed out, a row's thousands of calls
      // cover a few hundred pixels
      let runX0 = NaN;
      let runX1 = NaN;
      for (const s of found) {
        const x0 = LABEL_W + (s.x0 + 0.5 - view.x0) * scale;
        const x1 = Math.max(x0 + 1, LABEL_W + (s.x1 + 0.5 - view.x0) * scale);
        if (x0 <= runX1 + 1) {
          runX1 = Math.max(runX1, x1);
          continue;
        }
        if (runX1 > runX0) c.fillRect(runX0, y, runX1 - runX0, ROW_H - 4);
        runX0 = x0;
        runX1 = x1;
      }
      if (runX1 > runX0) c.fillRect(runX0, y, runX1 - runX0, ROW_H - 4);
      c.globalAlpha = 1;
      if (half >= 1) {
        c.fillStyle = color;
        for (const s of found) {
          const x0 = Math.max(LABEL_W, LABEL_W + (s.x0 + 0.5 - view.x0) * scale);
          const x1 = Math.min(width, LABEL_W + (s.x1 + 0.5 - view.x0) * scale);
          const text = fitText(c, s.fn, x1 - x0 - 8);
          if (text !== null) c.fillText(text, x0 + 5, y + (ROW_H - 4) / 2 + 0.5);
        }
      }
    }
  }

  // arrows: steps and timers from the orchestrator, calls to the callee, returns back
  const visible = eventsInSlots(model, a, b);
  const heads = scale >= 5;
  for (const kind of ['return', 'step', 'timer', 'call'] as const) {
    c.strokeStyle = ARROW_COLORS[kind];
    c.lineWidth = kind === 'return' ? 1 : 1.25;
    c.beginPath();
    // zoomed out, many arrows fall on one pixel column: each (column, from, to) is drawn once
    let column = NaN;
    const drawn = new Set<number>();
    for (const i of visible) {
      const ev = model.events[i];
      if (ev.type !== kind || ev.from < 0) continue;
      const x = Math.round(LABEL_W + (ev.slot + 0.5 - view.x0) * scale) + 0.5;
      const y1 = rowY(g, ev.from, ev.fromRow);
      const y2 = rowY(g, ev.to, ev.toRow);
      if (x !== column) {
        column = x;
        drawn.clear();
      }
      const key = y1 * 65536 + y2;
      if (drawn.has(key)) continue;
      drawn.add(key);
      c.moveTo(x, y1);
      c.lineTo(x, y2);
      if (heads && y1 !== y2) {
        const d = y2 > y1 ? -5 : 5;
        c.moveTo(x - 3, y2 + d);
        c.lineTo(x, y2);
        c.lineTo(x + 3, y2 + d);
      }
    }
    c.stroke();
  }
  // run.start and run.end: a tick on the orchestrator's lane
  c.fillStyle = '#667085';
  for (const i of visible) {
    const ev = model.events[i];
    if (ev.type !== 'run.start' && ev.type !== 'run.end') continue;
    const x = LABEL_W + (ev.slot + 0.5 - view.x0) * scale;
    c.fillRect(x - 1, rowY(g, 0, 0) - 5, 2, 10);
  }

  // findings: a line across, a diamond where it happened, a tick in the header
  const marks = model.marks;
  lo = 0;
  hi = marks.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (marks[mid].slot < a) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < marks.length && marks[i].slot <= b; i++) {
    const m = marks[i];
    const x = Math.round(LABEL_W + (m.slot + 0.5 - view.x0) * scale) + 0.5;
    const y = rowY(g, m.lane, m.row);
    c.strokeStyle = KIND_COLORS[m.kind];
    c.globalAlpha = 0.35;
    c.beginPath();
    c.moveTo(x, HEADER);
    c.lineTo(x, height);
    c.stroke();
    c.globalAlpha = 1;
    c.fillStyle = KIND_COLORS[m.kind];
    c.beginPath();
    c.moveTo(x, y - 6);
    c.lineTo(x + 6, y);
    c.lineTo(x, y + 6);
    c.lineTo(x - 6, y);
    c.closePath();
    c.fill();
    c.beginPath();
    c.moveTo(x - 4, HEADER - 6);
    c.lineTo(x + 4, HEADER - 6);
    c.lineTo(x, HEADER - 1);
    c.closePath();
    c.fill();
  }

  // the selection: a band across the lanes, rings where the event touches them
  if (o.selected >= 0) {
    const ev = model.events[o.selected];
    const x = LABEL_W + (ev.slot + 0.5 - view.x0) * scale;
    const w = Math.max(scale, 6);
    c.fillStyle = 'rgba(36, 89, 201, 0.12)';
    c.fillRect(x - w / 2, HEADER, w, height - HEADER);
    c.strokeStyle = '#1d2330';
    c.lineWidth = 1.5;
    const ring = (lane: number, row: number) => {
      c.beginPath();
      c.arc(x, rowY(g, lane, row), 5, 0, Math.PI * 2);
      c.stroke();
    };
    if (ev.from >= 0) {
      ring(ev.from, ev.fromRow);
      ring(ev.to, ev.toRow);
    } else {
      ring(ev.lane, ev.row);
    }
  }
  c.restore();

  // the lane names, over whatever scrolled under them
  c.fillStyle = '#eef1f6';
  c.fillRect(0, 0, LABEL_W, HEADER);
  c.font = FONT;
  c.fillStyle = '#5b6475';
  c.fillText('virtual time →', 8, HEADER / 2);
  c.font = LABEL_FONT;
  for (let l = 0; l < model.lanes.length; l++) {
    c.fillStyle = l % 2 === 0 ? '#ffffff' : '#f7f8fa';
    c.fillRect(0, g.laneTop[l], LABEL_W, g.laneHeight[l]);
    c.fillStyle = laneColor(model.lanes[l].name);
    c.fillRect(0, g.laneTop[l], 3, g.laneHeight[l]);
    c.fillStyle = '#1d2330';
    c.fillText(model.lanes[l].name, 10, g.laneTop[l] + LANE_PAD + ROW_H / 2);
  }
  c.strokeStyle = '#d9dde5';
  c.lineWidth = 1;
  c.beginPath();
  c.moveTo(LABEL_W - 0.5, 0);
  c.lineTo(LABEL_W - 0.5, height);
  for (let l = 0; l < model.lanes.length; l++) {
    c.moveTo(0, g.laneTop[l] - 0.5);
    c.lineTo(width, g.laneTop[l] - 0.5);
  }
  c.stroke();
}

/** The lane at css px `y`, or -1. */
export function laneAt(g: Geometry, y: number): number {
  for (let l = 0; l < g.laneTop.length; l++) {
    if (y >= g.laneTop[l] && y < g.laneTop[l] + g.laneHeight[l]) return l;
  }
  return -1;
}

/**
 * The event at css px (x, y), or -1: a finding's mark first, then the nearest event within a few
 * px across, preferring one whose arrow or span touches the lane pointed at.
 */
export function hitTest(
  model: TimelineModel,
  g: Geometry,
  view: TimelineView,
  x: number,
  y: number,
): number {
  if (x < LABEL_W || y < 0 || y > g.height) return -1;
  const lane = laneAt(g, y);
  const reach = 6;
  let best = -1;
  let bestScore = Infinity;
  for (const m of model.marks) {
    const dx = Math.abs(xOf(view, m.slot) - x);
    if (dx > reach) continue;
    const score = dx + (m.lane === lane ? 0 : 3);
    if (score < bestScore) {
      best = m.index;
      bestScore = score;
    }
  }
  if (best >= 0) return best;
  const near = eventsInSlots(model, slotAt(view, x - reach) - 0.5, slotAt(view, x + reach) - 0.5);
  for (const i of near) {
    const ev = model.events[i];
    const dx = Math.abs(xOf(view, ev.slot) - x);
    const touches =
      ev.lane === lane ||
      (ev.from >= 0 && lane >= Math.min(ev.from, ev.to) && lane <= Math.max(ev.from, ev.to));
    const score = dx + (touches ? 0 : 2 * reach);
    if (score < bestScore) {
      best = i;
      bestScore = score;
    }
  }
  return best;
}

/** Where an event is drawn: its slot's middle, on its lane's row. */
export function positionOf(
  model: TimelineModel,
  g: Geometry,
  view: TimelineView,
  index: number,
): { x: number; y: number } {
  const ev = model.events[index];
  return { x: xOf(view, ev.slot), y: rowY(g, ev.lane, ev.row) };
}
