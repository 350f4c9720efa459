/**
 * Event ids derive from causation only: a root stimulus is named after what it is (`run`, `b<n>`
 * for boot, `s<n>` for a scenario step, `end`), every other event is `<parent id>.<n>` for the
 * parent's n-th child. Never from arrival order, clocks or random numbers, so a redelivered or
 * replayed message gets the same id. They never contain ':' and never look like integers, which
 * keeps them usable as BullMQ job ids.
 */
export const RUN_START_ID = 'run';
export const RUN_END_ID = 'end';

export function bootId(index: number): string {
  return `b${index}`;
}

export function stepId(index: number): string {
  return `s${index}`;
}

export function childId(parent: string, index: number): string {
  return `${parent}.${index}`;
}
