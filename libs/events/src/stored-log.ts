/**
 * A format 2 log as the store keeps it: each event's row holds its body (the fourth member of its
 * line) beside its envelope's columns, and each definition is a row of its own with the seq of the
 * event that first uses it. These are the conversions between those rows and the log's lines, in
 * one place for every writer (the engine's sink, the auditor, import) and every reader.
 */
import type { CanonicalEvent } from './types.js';
import { DEF_KINDS, type DefKind, LogFormatError, parentOf } from './interned-log.js';

/** One definition: its id, its kind and its value's canonical JSON, as its line holds them. */
export interface LogDef {
  id: number;
  kind: DefKind;
  value: string;
}

/** An event's envelope: what its line holds beside its body. */
export type LogEnvelope = Pick<CanonicalEvent, 'type' | 'id' | 'jiffies' | 'causationId'>;

const DEF_PREFIX = /^\{"id":([1-9]\d{0,14}),"kind":"([a-z]+)","value":/;

/** The line of a definition. */
export function defLine(d: LogDef): string {
  return `{"id":${d.id},"kind":"${d.kind}","value":${d.value}}`;
}

/**
 * A definition line's parts, its value left as text (not parsed: the writers' lines come from an
 * interner, or were verified by an expander).
 * @throws LogFormatError when the line does not begin and end as a definition's
 */
export function parseDefLine(line: string): LogDef {
  const m = DEF_PREFIX.exec(line);
  if (m === null || !line.endsWith('}')) {
    throw new LogFormatError('a definition is {"id":…,"kind":…,"value":…}');
  }
  const kind = m[2] as DefKind;
  if (!DEF_KINDS.includes(kind)) {
    throw new LogFormatError(`no definitions of kind ${JSON.stringify(m[2])}`);
  }
  return { id: Number(m[1]), kind, value: line.slice(m[0].length, -1) };
}

/** The line of an event from its envelope and body. */
export function eventLine(e: LogEnvelope, body: string): string {
  return eventLinePrefix(e) + body + eventLineSuffix(e);
}

/**
 * The body of an event's line, the line checked to begin and end as that envelope's does (the body
 * is not parsed: see parseDefLine).
 * @throws LogFormatError when it does not
 */
export function bodyOfEventLine(e: LogEnvelope, line: string): string {
  const prefix = eventLinePrefix(e);
  const suffix = eventLineSuffix(e);
  if (
    line.length <= prefix.length + suffix.length ||
    !line.startsWith(prefix) ||
    !line.endsWith(suffix)
  ) {
    throw new LogFormatError(`not the line of ${e.type} ${e.id} at jiffy ${e.jiffies}`);
  }
  return line.slice(prefix.length, line.length - suffix.length);
}

function eventLinePrefix(e: LogEnvelope): string {
  return `[${JSON.stringify(e.type)},${JSON.stringify(e.id)},${e.jiffies},`;
}

function eventLineSuffix(e: LogEnvelope): string {
  if (e.causationId === parentOf(e.id)) return ']';
  return e.causationId === null ? ',null]' : `,${JSON.stringify(e.causationId)}]`;
}
