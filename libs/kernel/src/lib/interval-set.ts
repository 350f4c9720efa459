/**
 * A set of byte ranges as a flat sorted array [s0, e0, s1, e1, …] of disjoint, non-adjacent,
 * half-open intervals. Plain data (it travels inside component state) and O(intervals) per
 * operation: mnsim never allocates per page, so a 1 TiB mapping costs one pair.
 * Addresses stay below 2^53, so doubles are exact and Math.floor stands in for shifts.
 */
export type Intervals = number[];

/** Index of the first interval whose end is > addr (lower bound on ends). */
function firstEndingAfter(iv: Intervals, addr: number): number {
  let lo = 0;
  let hi = iv.length >> 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (iv[2 * mid + 1] <= addr) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Adds [s, e); merges neighbours. Returns the bytes newly covered. */
export function addRange(iv: Intervals, s: number, e: number): number {
  if (e <= s) return 0;
  // intervals that touch [s, e] (adjacent ones merge too)
  let i = firstEndingAfter(iv, s - 1);
  if (i > 0 && iv[2 * (i - 1) + 1] === s) i--;
  let j = i;
  let ns = s;
  let ne = e;
  let covered = 0;
  while (2 * j < iv.length && iv[2 * j] <= e) {
    const a = iv[2 * j];
    const b = iv[2 * j + 1];
    covered += Math.max(0, Math.min(b, e) - Math.max(a, s));
    ns = Math.min(ns, a);
    ne = Math.max(ne, b);
    j++;
  }
  iv.splice(2 * i, 2 * (j - i), ns, ne);
  return e - s - covered;
}

/** Removes [s, e). Returns the bytes that were covered. */
export function removeRange(iv: Intervals, s: number, e: number): number {
  if (e <= s) return 0;
  const i = firstEndingAfter(iv, s);
  let j = i;
  let removed = 0;
  const keep: number[] = [];
  while (2 * j < iv.length && iv[2 * j] < e) {
    const a = iv[2 * j];
    const b = iv[2 * j + 1];
    removed += Math.min(b, e) - Math.max(a, s);
    if (a < s) keep.push(a, s);
    if (b > e) keep.push(e, b);
    j++;
  }
  if (j > i) iv.splice(2 * i, 2 * (j - i), ...keep);
  return removed;
}

/** Bytes of [s, e) covered by the set. */
export function overlapBytes(iv: Intervals, s: number, e: number): number {
  let total = 0;
  for (let j = firstEndingAfter(iv, s); 2 * j < iv.length && iv[2 * j] < e; j++) {
    total += Math.min(iv[2 * j + 1], e) - Math.max(iv[2 * j], s);
  }
  return total;
}

/** Whether any byte of [s, e) is covered. */
export function overlaps(iv: Intervals, s: number, e: number): boolean {
  const j = firstEndingAfter(iv, s);
  return 2 * j < iv.length && iv[2 * j] < e;
}

export function totalBytes(iv: Intervals): number {
  let total = 0;
  for (let j = 0; j < iv.length; j += 2) total += iv[j + 1] - iv[j];
  return total;
}

/** How many distinct naturally aligned regions of `size` bytes the set touches. */
export function regionsTouched(iv: Intervals, size: number): number {
  let count = 0;
  let last = -1;
  for (let j = 0; j < iv.length; j += 2) {
    let first = Math.floor(iv[j] / size);
    const lastOfThis = Math.floor((iv[j + 1] - 1) / size);
    if (first === last) first++;
    if (lastOfThis >= first) count += lastOfThis - first + 1;
    last = lastOfThis;
  }
  return count;
}
