/**
 * The one form of a run id, wherever one is taken in: an HTTP path or query, an imported log's
 * header, a queue message. Every place a run id goes takes it as it is: a BullMQ job id (no ':'),
 * a Redis key, a URL path segment (not `.` or `..`), a command-line argument (not `-x`), a
 * terminal line (no control characters). Generated ids are UUIDs, which fit.
 */
export const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

/** What {@link RUN_ID_PATTERN} says, for error messages. */
export const RUN_ID_RULE =
  '1 to 100 letters, digits, ".", "_" or "-", the first a letter or a digit';

export function isRunId(value: unknown): value is string {
  return typeof value === 'string' && RUN_ID_PATTERN.test(value);
}
