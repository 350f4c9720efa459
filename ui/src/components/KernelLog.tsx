/**
 * A run's kernel log, as dmesg shows it, beside its timeline: the lines an event printed are one
 * entry, and a click on it selects that event (a splat's entry, its violation). The selected
 * event's entry is highlighted and scrolled to within the log.
 */
import { useEffect, useMemo, useRef } from 'preact/hooks';
import type { KernelLogLine } from '../api';

interface Entry {
  seq: number;
  text: string;
  lines: number;
}

export function KernelLog({
  lines,
  selected,
  violations,
  onSelect,
}: {
  lines: KernelLogLine[];
  selected: number | null;
  /** the seqs of the run's violation events: their entries are splats */
  violations: ReadonlySet<number>;
  onSelect: (seq: number) => void;
}) {
  const entries = useMemo(() => {
    const out: Entry[] = [];
    for (const l of lines) {
      const last = out.at(-1);
      if (last !== undefined && last.seq === l.seq) {
        last.text += `\n${l.line}`;
        last.lines++;
      } else {
        out.push({ seq: l.seq, text: l.line, lines: 1 });
      }
    }
    return out;
  }, [lines]);
  const box = useRef<HTMLDivElement>(null);

  // the selected event's lines in view, scrolling the log only (not the page)
  useEffect(() => {
    const el = box.current;
    if (el === null || selected === null) return;
    const entry = el.querySelector<HTMLElement>(`[data-seq="${selected}"]`);
    if (entry === null) return;
    const top = entry.offsetTop;
    const bottom = top + entry.offsetHeight;
    if (top < el.scrollTop || bottom > el.scrollTop + el.clientHeight) {
      el.scrollTop = Math.max(0, top - 8);
    }
  }, [selected, entries]);

  if (lines.length === 0) {
    return (
      <p class="muted" data-testid="kernel-log" data-lines={0}>
        Nothing printed.
      </p>
    );
  }
  return (
    <div class="klog" ref={box} data-testid="kernel-log" data-lines={lines.length}>
      {entries.map((e, i) => {
        const splat = violations.has(e.seq);
        return (
          <div
            key={i}
            class={`klog-entry${splat ? ' splat' : ''}${e.seq === selected ? ' selected' : ''}`}
            data-seq={e.seq}
            data-splat={splat ? 'true' : undefined}
            title={`printed by event ${e.seq}${splat ? ' (its violation)' : ''}: click to select it`}
            onClick={() => onSelect(e.seq)}
          >
            {e.text}
          </div>
        );
      })}
    </div>
  );
}
