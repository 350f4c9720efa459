/**
 * Text from a user (a file name, a run id from a log's header, a task's comm, a store's rows) on its
 * way to a terminal: control characters would move the cursor, clear the screen or start a line
 * that seems to come from mnsim, so each is shown escaped instead (`\n`, `\x1b`, `\u{202e}`).
 * Human output passes every piece of such text through here; JSON output needs nothing more
 * than JSON.stringify, which escapes C0 controls itself.
 */

/**
 * C0 and C1 controls and DEL; the Unicode line and paragraph separators; the bidirectional marks,
 * embeddings, overrides and isolates, which reorder what a terminal shows.
 */
const UNPRINTABLE =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escape(c: string): string {
  const named = NAMED[c];
  if (named !== undefined) return named;
  const code = c.codePointAt(0) ?? 0;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
}

/** `text` with every control character escaped: safe to print as (part of) one line. */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, escape);
}

/**
 * Where `text` first holds anything but printable ASCII (U+0020..U+007E), or -1: the characters a
 * task's comm may hold in mnsim's inputs (a scenario, a recorded violation).
 */
export function firstNonPrintableAscii(text: string): number {
  return text.search(/[^\x20-\x7e]/);
}
