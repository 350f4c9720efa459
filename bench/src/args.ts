/**
 * The benchmark's numeric settings (flags and MNSIM_BENCH_* variables) and its `--only` parts,
 * checked before anything runs: a wrong value is one line naming it, not a NaN that turns a
 * campaign into zero runs and a ratio into null.
 */

export class BenchArgError extends Error {
  readonly exitCode = 2;
}

export const BENCH_PARTS = [
  'embedded',
  'distributed',
  'recovery',
  'replay',
  'query',
  'api',
  'triage',
  'ui',
] as const;
export type BenchPart = (typeof BENCH_PARTS)[number];

/** `value` as a whole number from min to max, or a BenchArgError naming `name`. */
export function wholeNumber(name: string, value: string, min: number, max: number): number {
  const trimmed = value.trim();
  const n = Number(trimmed);
  if (!/^\d+$/.test(trimmed) || n < min || n > max) {
    throw new BenchArgError(
      `${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return n;
}

/** An environment variable as wholeNumber reads it; `dflt` when unset or blank. */
export function envWholeNumber(
  env: NodeJS.ProcessEnv,
  name: string,
  dflt: number,
  min: number,
  max: number,
): number {
  const v = env[name];
  return v === undefined || v.trim() === '' ? dflt : wholeNumber(name, v, min, max);
}

/** `--only a,b`: the parts named, each one of BENCH_PARTS; all of them when not given. */
export function benchParts(only: string | undefined): Set<BenchPart> {
  if (only === undefined) return new Set(BENCH_PARTS);
  const parts = only.split(',').map((p) => p.trim());
  for (const p of parts) {
    if (!(BENCH_PARTS as readonly string[]).includes(p)) {
      throw new BenchArgError(
        `--only takes ${BENCH_PARTS.join(', ')} (comma-separated), got ${JSON.stringify(p)}`,
      );
    }
  }
  return new Set(parts as BenchPart[]);
}
