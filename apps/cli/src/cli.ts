/**
 * The `mnsim` program: commander parses the arguments, each command runs, every error becomes a
 * one-line message and the contract's exit status. A command's module is loaded when it runs:
 * an embedded `mnsim run` loads neither Nest, BullMQ, ioredis nor express.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import {
  FINDING_KINDS,
  KERNEL_VARIANTS,
  ARCHES,
  type Arch,
  type KernelVariant,
} from '@mnsim/kernel';
import { ORIGINS, printable } from '@mnsim/events';
import { loadConfig } from './config.js';
import type { ViolationsOptions } from './commands/violations.js';
import { EXIT_BAD_INPUT, reportError } from './errors.js';

function nonNegativeInt(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
      throw new InvalidArgumentError(`${name} must be a non-negative integer`);
    }
    return Number(value);
  };
}

function positiveInt(name: string, max: number) {
  return (value: string): number => {
    const n = nonNegativeInt(name)(value);
    if (n < 1 || n > max) throw new InvalidArgumentError(`${name} must be between 1 and ${max}`);
    return n;
  };
}

const kernelOption = (): Option =>
  new Option('--kernel <variant>', 'kernel variant').choices([...KERNEL_VARIANTS]);

/**
 * commander's error line quotes the argument at fault as it was given: escaped, on one line. A
 * suggestion it adds on a line of its own names only known commands and options.
 */
function commanderError(text: string): string {
  const m = /^([\s\S]*?)(\n\(Did you mean [^\n]*\?\))?\n?$/.exec(text);
  return m === null ? `${printable(text)}\n` : `${printable(m[1])}${m[2] ?? ''}\n`;
}

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('mnsim')
    .description(
      'Simulate the Linux 5.8 MMU-notifier invalidation path (OOM reaper, KVM) and record every sleep in atomic context',
    )
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (text, write) => write(commanderError(text)) })
    .exitOverride();

  program
    .command('run')
    .description('run a scenario file or a built-in scenario and print the kernel log it produces')
    .argument(
      '<scenario>',
      'a scenario .yaml file or the name of a built-in (see `mnsim scenarios`)',
    )
    .addOption(kernelOption())
    .option('--seed <n>', 'seed of the run (overrides the scenario)', nonNegativeInt('--seed'))
    .option('--distributed', 'run on the cluster (BullMQ on Redis)')
    .option('--json', 'print one JSON object instead of the kernel log')
    .option('--fail-on-violation', 'exit 1 when a violation was recorded')
    .action(
      async (
        scenario: string,
        opts: {
          kernel?: KernelVariant;
          seed?: number;
          distributed?: boolean;
          json?: boolean;
          failOnViolation?: boolean;
        },
      ) => {
        setExit(await (await import('./commands/run.js')).runCommand(scenario, opts, loadConfig()));
      },
    );

  program
    .command('violations')
    .description('query the recorded violations, newest first, or grouped by signature')
    .addOption(new Option('--kind <kind>', 'kind of finding').choices([...FINDING_KINDS]))
    .addOption(
      new Option(
        '--origin <origin>',
        'simulated, or observed in a real log (triage --record)',
      ).choices([...ORIGINS]),
    )
    .addOption(new Option('--arch <arch>', 'architecture').choices([...ARCHES]))
    .addOption(kernelOption())
    .option('--scenario <name>', 'scenario name')
    .option('--run <runId>', 'run id (a unique prefix is enough)')
    .option('--comm <comm>', 'task name (as the kernel keeps it: at most 15 characters)')
    .option('--since <when>', 'ISO date/time, or a duration back from now (30m, 12h, 7d)')
    .addOption(new Option('--group-by <key>', 'group the violations').choices(['signature']))
    .option(
      '--limit <n>',
      'at most this many violations (1..1000)',
      positiveInt('--limit', 1000),
      100,
    )
    .option('--json', 'print JSON')
    .action(async (opts: ViolationsOptions) => {
      setExit(
        await (await import('./commands/violations.js')).violationsCommand(opts, loadConfig()),
      );
    });

  program
    .command('triage')
    .description(
      'title each splat of a real kernel log as syzkaller would, with the built-in scenarios and stored runs that reproduce it and the variants that fix it',
    )
    .argument('<dmesg>', "the kernel log ('-' for standard input)")
    .option('--json', 'print JSON: { "reports": [ … ] }')
    .option(
      '--record',
      'keep the splats in the history as observed findings (mnsim violations --origin observed)',
    )
    .action(async (file: string, opts: { json?: boolean; record?: boolean }) => {
      setExit(await (await import('./commands/triage.js')).triageCommand(file, opts, loadConfig()));
    });

  program
    .command('export')
    .description(
      "write a run's log as JSON Lines: a header line, then the log in format 2 (each repeated part defined once, referred to by id after); or, with --format perfetto, as a trace for Perfetto and chrome://tracing",
    )
    .argument('<runId>', 'run id (a unique prefix is enough)')
    .option('-o, --output <file>', 'output file (default: standard output)')
    .option(
      '--format <format>',
      'jsonl (the log), or perfetto (Chrome trace-event JSON: tasks as tracks, calls as slices, findings as instants)',
      'jsonl',
    )
    .option('--expand', 'write format 1 instead: one self-contained event a line (jsonl only)')
    .action(async (runId: string, opts: { output?: string; format: string; expand?: boolean }) => {
      setExit(
        await (await import('./commands/export.js')).exportCommand(runId, opts, loadConfig()),
      );
    });

  program
    .command('import')
    .description('import a log written by `mnsim export` (checked line by line) as a completed run')
    .argument('<log.jsonl>', 'the log file')
    .option('--json', 'print one JSON object instead of the run id')
    .action(async (file: string, opts: { json?: boolean }) => {
      setExit(await (await import('./commands/import.js')).importCommand(file, opts, loadConfig()));
    });

  program
    .command('replay')
    .description(
      're-execute a recorded run and compare it with its log, or replay it on another kernel variant',
    )
    .argument('[ref]', 'run id (a unique prefix is enough) or a log.jsonl file')
    .addOption(kernelOption())
    .addOption(
      new Option(
        '--arch <arch>',
        'replay on another architecture, where the scenario allows',
      ).choices([...ARCHES]),
    )
    .option(
      '--rebuild',
      'rebuild the violations table from the event logs (every run, or the run given)',
    )
    .option('--json', 'print one JSON object')
    .action(
      async (
        ref: string | undefined,
        opts: { kernel?: KernelVariant; arch?: Arch; json?: boolean; rebuild?: boolean },
      ) => {
        setExit(
          await (await import('./commands/replay.js')).replayCommand(ref, opts, loadConfig()),
        );
      },
    );

  program
    .command('fuzz')
    .description('run a campaign of generated scenarios from one seed and summarise its violations')
    .requiredOption('--runs <n>', 'how many scenarios (1..100000)', positiveInt('--runs', 100_000))
    .option('--seed <s>', 'campaign seed', nonNegativeInt('--seed'), 1)
    .option('--distributed', 'run on the cluster (BullMQ on Redis)')
    .option('--json', 'print one JSON object')
    .action(async (opts: { runs: number; seed: number; distributed?: boolean; json?: boolean }) => {
      setExit(await (await import('./commands/fuzz.js')).fuzzCommand(opts, loadConfig()));
    });

  const dlq = program
    .command('dlq')
    .description(
      "the cluster's dead-letter queue: the messages its workers refused, with the reason (MNSIM_REDIS_URL, MNSIM_QUEUE_PREFIX); the workers keep at most MNSIM_DLQ_MAX_ENTRIES (10000) entries, none older than MNSIM_DLQ_MAX_AGE (7d)",
    );
  dlq
    .command('list')
    .description('list the entries, newest first: id, when, queue, job, run, reason')
    .option(
      '--limit <n>',
      'at most this many entries (1..10000)',
      positiveInt('--limit', 10_000),
      50,
    )
    .option('--json', 'print JSON (without the messages: see `dlq show`)')
    .action(async (opts: { limit: number; json?: boolean }) => {
      setExit(await (await import('./commands/dlq.js')).dlqListCommand(opts, loadConfig()));
    });
  dlq
    .command('show')
    .description('print one entry whole, with the message it holds')
    .argument('<id>', 'entry id (see `dlq list`)')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      setExit(await (await import('./commands/dlq.js')).dlqShowCommand(id, opts, loadConfig()));
    });
  dlq
    .command('retry')
    .description(
      "send an entry's message back to its queue (same job name and data) and remove the entry; a message that is still malformed is dead-lettered again",
    )
    .argument('[id]', 'entry id (see `dlq list`)')
    .option('--all', 'every entry, oldest first')
    .action(async (id: string | undefined, opts: { all?: boolean }) => {
      setExit(await (await import('./commands/dlq.js')).dlqRetryCommand(id, opts, loadConfig()));
    });
  dlq
    .command('purge')
    .description('remove entries: every one (needs --yes), or those older than a duration')
    .option('--older-than <duration>', 'only entries dead-lettered longer ago (90m, 12h, 7d)')
    .option('--yes', 'remove every entry')
    .action(async (opts: { olderThan?: string; yes?: boolean }) => {
      setExit(await (await import('./commands/dlq.js')).dlqPurgeCommand(opts, loadConfig()));
    });

  program
    .command('serve')
    .description(
      "serve the HTTP API: runs, events, violations, signatures, replay (MNSIM_API_HOST, MNSIM_API_PORT, MNSIM_API_TOKEN); with MNSIM_REDIS_URL also orchestrate that cluster's runs (MNSIM_ORCHESTRATOR=off: HTTP only)",
    )
    .action(async () => {
      const { loadApiConfig, serve } = await import('@mnsim/http');
      const api = await serve(loadApiConfig());
      await api.closed;
      setExit(0);
    });

  program
    .command('scenarios')
    .description('list the built-in scenarios and what each shows')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      setExit((await import('./commands/scenarios.js')).scenariosCommand(opts));
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = buildProgram((c) => (code = c));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed the message (or the help/version text)
      return err.exitCode === 0 ? 0 : EXIT_BAD_INPUT;
    }
    return reportError(err);
  }
}
