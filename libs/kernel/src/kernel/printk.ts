/**
 * printk and the dmesg view of it. Lines carry their virtual time; `formatDmesg` prints them the
 * way `dmesg` shows a kernel log, with the timestamp derived from jiffies and HZ.
 */

/** KERN_EMERG … KERN_DEBUG */
export type LogLevel = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7;
export const KERN_EMERG: LogLevel = 0;
export const KERN_ERR: LogLevel = 3;
export const KERN_WARNING: LogLevel = 4;
export const KERN_INFO: LogLevel = 6;

export interface PrintkLine {
  jiffies: number;
  level: LogLevel;
  text: string;
}

/** "[    0.040000] " for jiffies 10 at HZ 250. */
export function dmesgTimestamp(jiffies: number, hz: number): string {
  const seconds = Math.floor(jiffies / hz);
  const micros = Math.floor(((jiffies % hz) * 1_000_000) / hz);
  return `[${String(seconds).padStart(5, ' ')}.${String(micros).padStart(6, '0')}]`;
}

export function formatDmesgLine(line: PrintkLine, hz: number): string {
  return `${dmesgTimestamp(line.jiffies, hz)} ${line.text}`;
}

/** "0x40000000"; ULONG_MAX (modelled as 2^64) prints as the kernel would. */
export function hex(n: number): string {
  if (n >= 2 ** 64) return '0xffffffffffffffff';
  return `0x${n.toString(16)}`;
}

export function kib(bytes: number): number {
  return Math.floor(bytes / 1024);
}
