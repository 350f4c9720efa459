/**
 * What part of the axis the timeline shows: the slot at the plot's left edge and the pixels per
 * slot. One view can be shared by two timelines on the same axis (a run and its replay), so
 * that they pan and zoom together and stay aligned.
 */

/** px per slot, at most: an event's slot is then wide enough for its label */
export const MAX_SCALE = 96;
/** px per slot a revealed event gets at least (about 60 events across a 1000 px plot) */
export const REVEAL_SCALE = 16;

export class TimelineView {
  /** the slot at the plot's left edge (fractional) */
  x0 = 0;
  /** css px per slot */
  scale = 1;
  /** the plot's width, css px */
  width = 0;
  /** the axis' slots */
  slots = 0;
  private fitted = false;
  private readonly listeners = new Set<() => void>();

  /** A plot's width and the axis' length: fit the first time, keep what is in view after. */
  resize(width: number, slots: number): void {
    if (width === this.width && slots === this.slots) return;
    const center = this.x0 + this.width / 2 / this.scale;
    const wasFit = this.isFit();
    this.width = width;
    this.slots = slots;
    if (width <= 0 || slots <= 0) return;
    if (!this.fitted || wasFit) {
      this.fitted = true;
      this.fit();
    } else {
      this.setView(center - width / 2 / this.scale, this.scale);
    }
  }

  /** The smallest scale: the whole axis across the plot. */
  minScale(): number {
    return Math.min(MAX_SCALE, this.width / Math.max(1, this.slots));
  }

  isFit(): boolean {
    return this.scale <= this.minScale() + 1e-9;
  }

  fit(): void {
    this.setView(0, this.minScale());
  }

  /** The slots in view, [first, last], fractional. */
  visible(): [number, number] {
    return [this.x0, this.x0 + this.width / this.scale];
  }

  setView(x0: number, scale: number): void {
    const s = Math.max(this.minScale(), Math.min(MAX_SCALE, scale));
    const across = this.width / s;
    // the whole axis fits: show it from its start; otherwise keep a part of it in view
    const x = this.slots <= across ? 0 : Math.max(-2, Math.min(this.slots - across + 2, x0));
    if (x === this.x0 && s === this.scale) return;
    this.x0 = x;
    this.scale = s;
    for (const l of this.listeners) l();
  }

  panBy(px: number): void {
    this.setView(this.x0 + px / this.scale, this.scale);
  }

  /** Zooms by `factor` keeping the slot under `px` (from the plot's left edge) where it is. */
  zoomAt(factor: number, px: number): void {
    const slot = this.x0 + px / this.scale;
    const s = Math.max(this.minScale(), Math.min(MAX_SCALE, this.scale * factor));
    this.setView(slot - px / s, s);
  }

  /** Brings `slot` to the middle, zoomed in to at least `scale`. */
  centerOn(slot: number, scale = this.scale): void {
    const s = Math.max(this.minScale(), Math.min(MAX_SCALE, Math.max(this.scale, scale)));
    this.setView(slot + 0.5 - this.width / 2 / s, s);
  }

  /** Whether `slot` is in view, with `margin` px to spare on each side. */
  inView(slot: number, margin = 0): boolean {
    const m = margin / this.scale;
    const [a, b] = this.visible();
    return slot >= a + m && slot + 1 <= b - m;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
