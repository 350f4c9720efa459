/**
 * One run's timeline on a canvas: drawn from the precomputed model for the part of the axis in
 * view, redrawn at most once a frame when the view (shared with the other timeline of the page,
 * if any), the selection or the size changes. Ctrl + wheel (a trackpad's pinch too) zooms at the
 * pointer, a sideways wheel (or Shift + wheel) pans, and a plain wheel is left to the page, which
 * scrolls past the timeline as it would past a map: the first one says how to zoom. A drag pans,
 * a click selects; with the canvas focused, ←/→ pan, +/− zoom, 0 fits, ,/. step to the
 * previous/next event.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useMemo, useRef } from 'preact/hooks';
import { type Mark, type TimelineModel, eventsInSlots } from './model';
import { KIND_COLORS, LABEL_W, draw, geometryOf, hitTest, positionOf, rowY, xOf } from './render';
import { publishTimeline } from './testing';
import { REVEAL_SCALE, type TimelineView } from './view';

export interface TimelineProps {
  /** its name for the tests' handle: run, replay */
  name: string;
  model: TimelineModel;
  view: TimelineView;
  /** the selected event's seq */
  selected: number | null;
  onSelect: (seq: number) => void;
  caption?: ComponentChildren;
}

/** How long the hint to a plain wheel stays before it fades, ms. */
const WHEEL_HINT_MS = 1800;
/** Whether a plain wheel over a timeline has had its hint: once a page, whichever timeline. */
let wheelHinted = false;

interface Frame {
  raf: number;
  frames: number;
  firstDrawMs: number;
  lastDrawMs: number;
  /** css px */
  width: number;
  /** the seq this timeline's own click selected: it is in view already, nothing to reveal */
  clicked: number | null;
  /** a slot to reveal once the timeline has a width */
  pendingReveal: number | null;
}

export function Timeline(props: TimelineProps) {
  const { model, view, name } = props;
  const box = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const tip = useRef<HTMLDivElement>(null);
  const hint = useRef<HTMLDivElement>(null);
  const geo = useMemo(() => geometryOf(model), [model]);
  const latest = useRef({ props, geo });
  latest.current = { props, geo };
  const f = useRef<Frame>({
    raf: 0,
    frames: 0,
    firstDrawMs: -1,
    lastDrawMs: 0,
    width: 0,
    clicked: null,
    pendingReveal: null,
  }).current;

  const paint = () => {
    f.raf = 0;
    const cv = canvas.current;
    if (cv === null || f.width <= 0) return;
    const { props: p, geo: g } = latest.current;
    const dpr = window.devicePixelRatio || 1;
    const w = Math.round(f.width * dpr);
    const h = Math.round(g.height * dpr);
    if (cv.width !== w || cv.height !== h) {
      cv.width = w;
      cv.height = h;
      cv.style.width = `${f.width}px`;
      cv.style.height = `${g.height}px`;
    }
    const c = cv.getContext('2d');
    if (c === null) return;
    c.setTransform(dpr, 0, 0, dpr, 0, 0);
    const t0 = performance.now();
    const selected = p.selected === null ? -1 : (p.model.indexOfSeq.get(p.selected) ?? -1);
    draw(c, p.model, g, p.view, { width: f.width, selected });
    f.lastDrawMs = performance.now() - t0;
    if (f.frames++ === 0) {
      f.firstDrawMs = f.lastDrawMs;
      performance.mark(`mnsim:timeline:${p.name}:drawn`);
      if (box.current) box.current.dataset.ready = 'true';
    }
  };
  const schedule = () => {
    if (f.raf === 0) f.raf = requestAnimationFrame(paint);
  };

  const reveal = (slot: number) => {
    if (view.width <= 0) {
      f.pendingReveal = slot;
      return;
    }
    if (!view.inView(slot, 24) || view.scale < REVEAL_SCALE / 4) view.centerOn(slot, REVEAL_SCALE);
    const el = box.current;
    if (el) {
      const r = el.getBoundingClientRect();
      if (r.bottom < 0 || r.top > window.innerHeight) el.scrollIntoView({ block: 'nearest' });
    }
  };

  // size: the box's width, the model's height; the view learns the plot's width
  useEffect(() => {
    const el = box.current!;
    const resize = () => {
      f.width = el.clientWidth;
      view.resize(Math.max(0, f.width - LABEL_W), latest.current.props.model.axis.slots);
      if (f.pendingReveal !== null && view.width > 0) {
        const slot = f.pendingReveal;
        f.pendingReveal = null;
        reveal(slot);
      }
      schedule();
    };
    const ro = new ResizeObserver(resize);
    ro.observe(el);
    resize();
    const off = view.subscribe(schedule);
    return () => {
      ro.disconnect();
      off();
      cancelAnimationFrame(f.raf);
      f.raf = 0;
    };
  }, [view]);

  // a new model (the axis aligned with a replay's): same view, new geometry
  useEffect(() => {
    view.resize(Math.max(0, f.width - LABEL_W), model.axis.slots);
    schedule();
  }, [model]);

  // a selection from elsewhere (the URL, the kernel log, a finding): bring it into view
  useEffect(() => {
    schedule();
    const i = props.selected === null ? undefined : model.indexOfSeq.get(props.selected);
    if (i === undefined) return;
    if (f.clicked === props.selected) {
      f.clicked = null;
      return;
    }
    reveal(model.events[i].slot);
  }, [props.selected, model]);

  // pointer and keys, bound once; they read the latest props
  useEffect(() => {
    const el = box.current!;
    const cv = canvas.current!;
    let drag: { x: number; moved: number; id: number } | null = null;
    const local = (e: MouseEvent) => {
      const r = cv.getBoundingClientRect();
      return { x: e.clientX - r.left, y: e.clientY - r.top };
    };
    const hideTip = () => {
      if (tip.current) tip.current.hidden = true;
    };
    let hintTimer = 0;
    const showHint = () => {
      const h = hint.current;
      if (wheelHinted || h === null) return;
      wheelHinted = true;
      h.textContent = 'Ctrl + wheel to zoom';
      h.classList.add('shown');
      hintTimer = window.setTimeout(() => {
        h.classList.remove('shown');
        // faded: nothing left for a screen reader to come across
        hintTimer = window.setTimeout(clearHint, 400);
      }, WHEEL_HINT_MS);
    };
    const clearHint = () => {
      window.clearTimeout(hintTimer);
      const h = hint.current;
      if (h === null) return;
      h.classList.remove('shown');
      h.textContent = '';
    };
    // only what the timeline handles is taken from the page: a plain wheel scrolls it
    const onWheel = (e: WheelEvent) => {
      const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? view.width : 1;
      const dx = e.deltaX * unit;
      const dy = e.deltaY * unit;
      hideTip();
      // a pinch comes as a wheel with ctrlKey; the browser would zoom the page on either
      if (e.ctrlKey) view.zoomAt(Math.exp(-dy * 0.0015), local(e).x - LABEL_W);
      else if (e.shiftKey || Math.abs(dx) > Math.abs(dy)) view.panBy(dx !== 0 ? dx : dy);
      else {
        if (dy !== 0) showHint();
        return;
      }
      e.preventDefault();
    };
    const onDown = (e: PointerEvent) => {
      if (e.button !== 0) return;
      drag = { x: e.clientX, moved: 0, id: e.pointerId };
      cv.setPointerCapture(e.pointerId);
      hideTip();
    };
    const onMove = (e: PointerEvent) => {
      if (drag !== null) {
        const dx = e.clientX - drag.x;
        drag.x = e.clientX;
        drag.moved += Math.abs(dx);
        if (dx !== 0) view.panBy(-dx);
        return;
      }
      const { props: p, geo: g } = latest.current;
      const { x, y } = local(e);
      const i = hitTest(p.model, g, view, x, y);
      cv.style.cursor = i >= 0 ? 'pointer' : 'grab';
      const t = tip.current;
      if (t === null) return;
      if (i < 0) {
        t.hidden = true;
        return;
      }
      const ev = p.model.events[i];
      const mark = ev.kind !== null ? p.model.marks.find((m) => m.index === i) : undefined;
      t.textContent =
        `seq ${ev.seq} · jiffy ${ev.jiffies} · ${ev.type}` +
        (ev.fn ? ` ${ev.fn}` : '') +
        (mark ? ` · ${mark.signature}` : '');
      t.hidden = false;
      t.style.left = `${Math.min(x + 12, Math.max(0, el.clientWidth - 360))}px`;
      t.style.top = `${y + 14}px`;
    };
    const onUp = (e: PointerEvent) => {
      if (drag === null || e.pointerId !== drag.id) return;
      const moved = drag.moved;
      drag = null;
      if (moved >= 4) return;
      const { props: p, geo: g } = latest.current;
      const { x, y } = local(e);
      const i = hitTest(p.model, g, view, x, y);
      if (i < 0) return;
      const seq = p.model.events[i].seq;
      f.clicked = seq;
      p.onSelect(seq);
      el.focus({ preventScroll: true });
    };
    const onKey = (e: KeyboardEvent) => {
      const { props: p } = latest.current;
      const step = (d: number) => {
        const cur = p.selected === null ? undefined : p.model.indexOfSeq.get(p.selected);
        const next = cur === undefined ? 0 : cur + d;
        if (next >= 0 && next < p.model.events.length) p.onSelect(p.model.events[next].seq);
      };
      switch (e.key) {
        case 'ArrowLeft':
          view.panBy(-view.width / (e.shiftKey ? 2 : 8));
          break;
        case 'ArrowRight':
          view.panBy(view.width / (e.shiftKey ? 2 : 8));
          break;
        case '+':
        case '=':
          view.zoomAt(1.5, view.width / 2);
          break;
        case '-':
          view.zoomAt(1 / 1.5, view.width / 2);
          break;
        case '0':
          view.fit();
          break;
        case ',':
          step(-1);
          break;
        case '.':
          step(1);
          break;
        default:
          return;
      }
      e.preventDefault();
    };
    const onCancel = () => {
      drag = null;
    };
    el.addEventListener('wheel', onWheel, { passive: false });
    el.addEventListener('keydown', onKey);
    cv.addEventListener('pointerdown', onDown);
    cv.addEventListener('pointermove', onMove);
    cv.addEventListener('pointerup', onUp);
    cv.addEventListener('pointercancel', onCancel);
    cv.addEventListener('pointerleave', hideTip);
    return () => {
      clearHint();
      el.removeEventListener('wheel', onWheel);
      el.removeEventListener('keydown', onKey);
      cv.removeEventListener('pointerdown', onDown);
      cv.removeEventListener('pointermove', onMove);
      cv.removeEventListener('pointerup', onUp);
      cv.removeEventListener('pointercancel', onCancel);
      cv.removeEventListener('pointerleave', hideTip);
    };
  }, [view]);

  // the tests' handle
  useEffect(
    () =>
      publishTimeline(name, {
        eventsInView: () => {
          const [a, b] = view.visible();
          return eventsInSlots(model, a - 0.5, b - 0.5).map((i) => model.events[i].seq);
        },
        select: (seq) => {
          if (model.indexOfSeq.has(seq)) latest.current.props.onSelect(seq);
        },
        selected: () => latest.current.props.selected,
        marks: () =>
          model.marks.map((m) => {
            const x = xOf(view, m.slot);
            return {
              seq: m.seq,
              kind: m.kind,
              x,
              y: rowY(geo, m.lane, m.row),
              visible: x >= LABEL_W && x <= LABEL_W + view.width,
            };
          }),
        positionOf: (seq) => {
          const i = model.indexOfSeq.get(seq);
          return i === undefined ? null : positionOf(model, geo, view, i);
        },
        view: () => ({ x0: view.x0, scale: view.scale, slots: view.slots }),
        stats: () => ({
          frames: f.frames,
          firstDrawMs: f.firstDrawMs,
          lastDrawMs: f.lastDrawMs,
        }),
      }),
    [name, model, geo, view],
  );

  return (
    <div class="timeline">
      {props.caption && <div class="timeline-caption">{props.caption}</div>}
      <div
        ref={box}
        class="timeline-canvas"
        data-testid={name === 'run' ? 'timeline' : `timeline-${name}`}
        data-events={model.events.length}
        data-findings={model.marks.length}
        data-selected={props.selected ?? ''}
        tabIndex={0}
        aria-label="timeline: drag, Shift + wheel or ←/→ to pan, Ctrl + wheel or +/− to zoom, 0 to fit, click an event to select it"
        style={{ height: `${geo.height}px` }}
      >
        <canvas ref={canvas} />
        <div ref={tip} class="timeline-tip" hidden />
        <div ref={hint} class="timeline-hint" data-testid="timeline-hint" role="status" />
      </div>
    </div>
  );
}

/** How to read the timeline: under it, once. */
export function TimelineLegend() {
  return (
    <p class="timeline-legend muted">
      Time runs left to right in virtual time: the jiffies that have events, in order (labelled at
      the top; <b>⋯</b> where empty jiffies are skipped), and within a jiffy each event in its own
      slot in seq order. <Swatch color="#2459c9" /> call, from the caller's lane to the callee's;{' '}
      <Swatch color="#98a2b3" /> its return; <Swatch color="#344054" /> a step and{' '}
      <Swatch color="#0e7490" /> a timer from the orchestrator. A bar on a lane is a call in flight,
      one row per nesting depth on that lane. Findings: <Diamond kind="atomic-sleep" />{' '}
      atomic-sleep, <Diamond kind="notifier-imbalance" /> notifier-imbalance,{' '}
      <Diamond kind="guest-livelock" /> guest-livelock. Ctrl + wheel (or a pinch) zooms; drag, Shift
      + wheel or a sideways wheel pans (or ←/→, +/−, 0 with the timeline focused; , and . step
      through events); click an event for its context.
    </p>
  );
}

function Swatch({ color }: { color: string }) {
  return <span class="swatch" style={{ background: color }} />;
}

function Diamond({ kind }: { kind: keyof typeof KIND_COLORS }) {
  return <span class="diamond" style={{ background: KIND_COLORS[kind] }} />;
}

/** Zoom, pan and fit for the page's timelines (they share one view), and the findings in turn. */
export function TimelineToolbar({
  view,
  marks,
  selected,
  onSelect,
}: {
  view: TimelineView;
  marks: readonly Mark[];
  selected: number | null;
  onSelect: (seq: number) => void;
}) {
  const finding = (d: 1 | -1) => {
    if (marks.length === 0) return;
    const target =
      selected === null
        ? d > 0
          ? marks[0]
          : marks[marks.length - 1]
        : d > 0
          ? (marks.find((m) => m.seq > selected) ?? marks[0])
          : (marks.findLast((m) => m.seq < selected) ?? marks[marks.length - 1]);
    onSelect(target.seq);
  };
  return (
    <div class="timeline-toolbar" role="toolbar" aria-label="timeline view">
      <button
        type="button"
        title="zoom out (−)"
        data-testid="zoom-out"
        onClick={() => view.zoomAt(1 / 1.5, view.width / 2)}
      >
        −
      </button>
      <button
        type="button"
        title="zoom in (+)"
        data-testid="zoom-in"
        onClick={() => view.zoomAt(1.5, view.width / 2)}
      >
        +
      </button>
      <button
        type="button"
        title="the whole run (0)"
        data-testid="zoom-fit"
        onClick={() => view.fit()}
      >
        Fit
      </button>
      <button
        type="button"
        title="pan left (←)"
        data-testid="pan-left"
        onClick={() => view.panBy(-view.width / 3)}
      >
        ◀
      </button>
      <button
        type="button"
        title="pan right (→)"
        data-testid="pan-right"
        onClick={() => view.panBy(view.width / 3)}
      >
        ▶
      </button>
      <span class="toolbar-gap" />
      <button
        type="button"
        disabled={marks.length === 0}
        data-testid="previous-finding"
        onClick={() => finding(-1)}
      >
        ◀ finding
      </button>
      <button
        type="button"
        disabled={marks.length === 0}
        data-testid="next-finding"
        onClick={() => finding(1)}
      >
        finding ▶
      </button>
      <span class="muted small">
        {marks.length} finding{marks.length === 1 ? '' : 's'}
      </span>
    </div>
  );
}
