/** `mnsim violations [filters] [--group-by signature] [--json]`: the history, like a crash dashboard. */
import type { FindingKind } from '@mnsim/kernel';
import type { Origin } from '@mnsim/events';
import { openStore, type ViolationFilter } from '@mnsim/store';
import type { CliConfig } from '../config.js';
import { EXIT_OK, UsageError } from '../errors.js';
import { SINCE_RULE, parseSince, violationRowJson } from '@mnsim/runs';
import { signaturesHuman, violationsHuman } from '../format.js';

export interface ViolationsOptions {
  kind?: FindingKind;
  origin?: Origin;
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

/** --since, as the API reads it (@mnsim/runs); anything else is a usage error. */
export function parseSinceOption(value: string, now = new Date()): Date {
  const date = parseSince(value, now);
  if (date === null) {
    throw new UsageError(`--since ${JSON.stringify(value)}: expected ${SINCE_RULE}`);
  }
  return date;
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
    kind: opts.kind,
    origin: opts.origin,
    arch: opts.arch,
    kernel: opts.kernel,
    scenario: opts.scenario,
    comm: opts.comm,
    since: opts.since !== undefined ? parseSinceOption(opts.since) : undefined,
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
