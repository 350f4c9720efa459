/**
 * The run's one source of randomness: sfc32 seeded through splitmix32 from the run's seed.
 * Pure and serialisable (its state is four numbers), so a replay draws the same values.
 */
export interface PrngState {
  a: number;
  b: number;
  c: number;
  d: number;
}

function splitmix32(x: number): () => number {
  let s = x >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export function seedPrng(seed: number): PrngState {
  const lo = splitmix32(seed >>> 0);
  const hi = splitmix32(Math.floor(seed / 2 ** 32) >>> 0);
  const st = { a: lo() ^ hi(), b: lo(), c: hi(), d: lo() ^ 0x5bd1e995 };
  for (let i = 0; i < 12; i++) nextU32(st);
  return st;
}

export function nextU32(st: PrngState): number {
  const t = (((st.a + st.b) >>> 0) + st.d) >>> 0;
  st.d = (st.d + 1) >>> 0;
  st.a = st.b ^ (st.b >>> 9);
  st.b = (st.c + (st.c << 3)) >>> 0;
  st.c = ((st.c << 21) | (st.c >>> 11)) >>> 0;
  st.c = (st.c + t) >>> 0;
  return t >>> 0;
}

/** A uniform integer in [0, n). */
export function nextInt(st: PrngState, n: number): number {
  return Math.floor((nextU32(st) / 2 ** 32) * n);
}
