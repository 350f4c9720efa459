/**
 * Triage of a real kernel log: each splat titled as syzkaller would title it, with the runs that
 * reproduce its signature (the built-in scenarios on every variant, and the runs of the store)
 * and the variants under which those lose it.
 */
import type { KernelVariant } from '@mnsim/kernel';
import { DmesgReader, type RawSplat } from './dmesg.js';
import {
  type BuiltinIndex,
  type Reproducer,
  type StoredReproducer,
  indexBuiltins,
} from './reproduce.js';
import { titleFrames, titleOf } from './title.js';

/** One splat of the log, as `mnsim triage --json` prints it. */
export interface TriageReport {
  kind: 'atomic-sleep';
  signature: string;
  comm: string | null;
  pid: number | null;
  /** its call trace, innermost first: reliable frames, names without suffixes */
  stack: string[];
  reproducedBy: Reproducer[];
  fixedBy: KernelVariant[];
  /** where it starts in the log (1-based), and the kernel release its CPU line names */
  line: number;
  release: string | null;
}

/** Simulated runs of the store whose findings have `signature` (a few, newest first). */
export type StoredReproducers = (signature: string) => Promise<StoredReproducer[]>;

/** Reads every splat of a log, one line at a time. */
export async function readSplats(lines: AsyncIterable<string>): Promise<RawSplat[]> {
  const splats: RawSplat[] = [];
  const reader = new DmesgReader((s) => splats.push(s));
  for await (const line of lines) reader.line(line);
  reader.end();
  return splats;
}

/**
 * Titles each splat and finds what reproduces it; the built-ins are simulated once, when the
 * first splat needs them (a log without a splat costs no simulation).
 */
export async function triage(
  splats: readonly RawSplat[],
  stored: StoredReproducers,
  index?: BuiltinIndex,
): Promise<TriageReport[]> {
  let builtins = index ?? null;
  const bySignature = new Map<string, { reproducedBy: Reproducer[]; fixedBy: KernelVariant[] }>();
  const out: TriageReport[] = [];
  for (const s of splats) {
    const signature = titleOf(s);
    let found = bySignature.get(signature);
    if (!found) {
      const runs = await stored(signature);
      builtins ??= indexBuiltins();
      found = {
        reproducedBy: [...builtins.reproducers(signature), ...runs.map((r) => r.reproducer)],
        fixedBy: builtins.fixedBy(signature, runs),
      };
      bySignature.set(signature, found);
    }
    out.push({
      kind: 'atomic-sleep',
      signature,
      comm: s.comm,
      pid: s.pid,
      stack: titleFrames(s),
      reproducedBy: found.reproducedBy,
      fixedBy: found.fixedBy,
      line: s.line,
      release: s.release,
    });
  }
  return out;
}
