/**
 * The kernel log (what dmesg shows) rebuilt from events: every printk line attached to an
 * event, and the splat of every violation the rate limit let print, in log order.
 */
import type { PrintkLine } from '@mnsim/kernel';
import { formatDmesgLine } from '@mnsim/kernel';
import { printable } from '@mnsim/events';

export interface KernelLogLine extends PrintkLine {
  /** seq of the event that carried it */
  seq: number;
}

interface EventLike {
  seq: number;
  type: string;
  jiffies: number;
  payload: unknown;
}

export function kernelLogFromEvent(e: EventLike, out: KernelLogLine[]): void {
  const p = e.payload as { log?: PrintkLine[]; violation?: { reported: boolean; text: string } };
  if (p.log) for (const l of p.log) out.push({ ...l, seq: e.seq });
  if (e.type === 'violation' && p.violation?.reported) {
    for (const text of p.violation.text.split('\n')) {
      out.push({ jiffies: e.jiffies, level: 3, text, seq: e.seq });
    }
  }
}

/** One dmesg line each, escaped: a line quotes a task's comm, which a recorded log could hold raw. */
export function formatKernelLog(lines: readonly PrintkLine[], hz: number): string[] {
  return lines.map((l) => printable(formatDmesgLine(l, hz)));
}
