/**
 * `since`, as `mnsim violations --since` and `GET /violations?since=` take it, in one place: an
 * ISO 8601 date or instant (2026-11-25, 2026-11-25T10:00Z), or a duration back from now (30s,
 * 30m, 12h, 7d, 2w). A duration that reaches back before 1970 means everything: the Unix epoch,
 * before anything was recorded. So does a date before 1970, and one past the year 9999 (UTC) is
 * its last instant: Postgres has no year 0 and no five-digit years, and refused 0000-01-01 and
 * 9999-12-31T23:59-23:59 with a 500.
 *
 * @returns null when the text is neither
 */
export function parseSince(text: string, now: Date = new Date()): Date | null {
  const rel = DURATION.exec(text);
  if (rel) {
    const seconds = Number(rel[1]) * UNIT_SECONDS[rel[2] as keyof typeof UNIT_SECONDS];
    return new Date(Math.max(0, now.getTime() - seconds * 1000));
  }
  if (!ISO_INSTANT.test(text)) return null;
  const date = new Date(text);
  return Number.isNaN(date.getTime())
    ? null
    : new Date(Math.min(Math.max(0, date.getTime()), LAST));
}

/** What parseSince accepts, for the messages that refuse the rest. */
export const SINCE_RULE =
  'an ISO 8601 date or instant (2026-11-25, 2026-11-25T10:00Z) or a duration back from now (30m, 12h, 7d, 2w)';

const ISO_INSTANT = /^\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d{1,9})?)?(Z|[+-]\d\d:?\d\d)?)?$/;
/** any number of digits: past the range of a Date it is the epoch all the same */
const DURATION = /^(\d+)([smhdw])$/;
const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 } as const;
const LAST = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
