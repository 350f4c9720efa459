/** Test support: a CLI entry run in-process with its standard output and error captured. */
import { vi } from 'vitest';

export interface CliOutcome {
  code: number;
  out: string;
  err: string;
}

/** Runs `run` (the CLI's `main`, or a command) with stdout and stderr captured, then restored. */
export async function captureOutput(run: () => Promise<number>): Promise<CliOutcome> {
  let out = '';
  let err = '';
  const text = (c: string | Uint8Array): string =>
    typeof c === 'string' ? c : Buffer.from(c).toString('utf8');
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
    out += text(c);
    return true;
  });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => {
    err += text(c);
    return true;
  });
  try {
    const code = await run();
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}
