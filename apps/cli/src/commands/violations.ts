/** `mnsim violations [filters] [--group-by signature] [--json]`: the history, like a crash dashboard. */
import { openStore, type ViolationFilter } from '@mnsim/store';
import type { CliConfig } from '../config.js';
import { EXIT_OK, UsageError } from '../errors.js';
import { violationRowJson } from '@mnsim/runs';
import { signaturesHuman, violationsHuman } from '../format.js';

export interface ViolationsOptions {
  arch?: string;
  kernel?: string;
  scenario?: string;
  run?: string;
  comm?: string;
  since?: string;
  groupBy?: string;
  json?: boolean;
  limit: number;
}

/**
 * --since: an ISO date/time, or a duration back from now: 30m, 12h, 7d. A duration that reaches
 * back before 1970 means everything: the Unix epoch (past the range of a Date, it was an invalid
 * date the store refused).
 */
export function parseSince(value: string, now = new Date()): Date {
  const rel = /^(\d+)\s*([smhdw])$/.exec(value.trim());
  if (rel) {
    const unit = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[
      rel[2] as 's' | 'm' | 'h' | 'd' | 'w'
    ];
    return new Date(Math.max(0, now.getTime() - Number(rel[1]) * unit * 1000));
  }
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) {
    throw new UsageError(
      `--since ${JSON.stringify(value)}: expected an ISO date (2026-11-25, 2026-11-25T10:00Z) or a duration like 30m, 12h, 7d`,
    );
  }
  return d;
}

export async function violationsCommand(
  opts: ViolationsOptions,
  config: CliConfig,
): Promise<number> {
  if (opts.groupBy !== undefined && opts.groupBy !== 'signature') {
    throw new UsageError(
      `--group-by ${JSON.stringify(opts.groupBy)}: only "signature" is supported`,
    );
  }
  const filter: ViolationFilter = {
    arch: opts.arch,
    kernel: opts.kernel,
    scenario: opts.scenario,
    comm: opts.comm,
    since: opts.since !== undefined ? parseSince(opts.since) : undefined,
  };
  const store = await openStore(config.store);
  try {
    if (opts.run !== undefined) filter.run = await store.resolveRunId(opts.run);
    if (opts.groupBy === 'signature') {
      const groups = await store.groupBySignature(filter);
      process.stdout.write(opts.json ? JSON.stringify(groups) + '\n' : signaturesHuman(groups));
      return EXIT_OK;
    }
    const page = await store.queryViolations({ ...filter, limit: opts.limit });
    process.stdout.write(
      opts.json
        ? JSON.stringify(page.rows.map(violationRowJson)) + '\n'
        : violationsHuman(page.rows, page.nextCursor !== null),
    );
    return EXIT_OK;
  } finally {
    await store.close();
  }
}
