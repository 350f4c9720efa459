/**
 * `mnsim export <runId> [-o log.jsonl] [--expand]`: the run's log as JSON Lines. The first line is
 * a header (format, version, run, scenario, variant, seed, logHash, events); the others are the
 * run's log in format 2, exactly the lines the logHash covers. With --expand, version 1: one
 * self-contained event a line, as logs were before format 2, and that log's own logHash.
 * `--format perfetto`: the same checked log as Chrome trace-event JSON (the engine's
 * perfettoTraceLines), for Perfetto's UI and chrome://tracing.
 */
import { once } from 'node:events';
import {
  type CanonicalEvent,
  canonicalEventLine,
  isEventLine,
  LogExpander,
  LogHasher,
  printable,
} from '@mnsim/events';
import {
  EXPANDED_LOG_FORMAT_VERSION,
  LOG_FORMAT,
  LOG_FORMAT_VERSION,
  RecordedRun,
  perfettoTraceLines,
} from '@mnsim/engine';
import { openStore } from '@mnsim/store';
import type { CliConfig } from '../config.js';
import { EXIT_OK, UsageError } from '../errors.js';
import { type LineWriter, writeFileAtomically } from '../output-file.js';

// the log format is defined once, by the engine that reads it back (import, replay)
export { EXPANDED_LOG_FORMAT_VERSION, LOG_FORMAT, LOG_FORMAT_VERSION };

/** What `--format` takes: the run's log, or a trace for Perfetto. */
export const EXPORT_FORMATS = ['jsonl', 'perfetto'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** The format asked for. @throws UsageError for an unknown one, or --expand beside perfetto */
function exportFormatOf(opts: { format?: string; expand?: boolean }): ExportFormat {
  const format = EXPORT_FORMATS.find((f) => f === (opts.format ?? 'jsonl'));
  if (format === undefined) {
    throw new UsageError(
      `--format '${opts.format}' is not a format: expected ${EXPORT_FORMATS.join(' or ')}`,
    );
  }
  if (opts.expand && format !== 'jsonl') {
    throw new UsageError(`--expand writes the log in format 1: it goes with --format jsonl only`);
  }
  return format;
}

/** Standard output as a LineWriter: waits for it to drain when it asks to. */
function stdoutLines(): LineWriter {
  return {
    line: async (text) => {
      if (!process.stdout.write(text + '\n')) await once(process.stdout, 'drain');
    },
  };
}

/**
 * With -o, the file appears whole or not at all (written beside it, then renamed); a path that
 * cannot be written is one line, exit 2.
 */
export async function exportCommand(
  ref: string,
  opts: { output?: string; format?: string; expand?: boolean },
  config: CliConfig,
): Promise<number> {
  const format = exportFormatOf(opts);
  const output = opts.output !== undefined && opts.output !== '-' ? opts.output : null;
  const store = await openStore(config.store);
  try {
    // a run that is not completed (or only observed) is refused before any file is written
    const recorded = await RecordedRun.open(store, ref, 'export');
    const runId = recorded.runId;
    let n = 0;
    const fill = async (out: LineWriter): Promise<void> => {
      // the stored log, checked against the run's count and logHash as it is read
      if (format === 'perfetto') {
        const events = async function* (): AsyncGenerator<CanonicalEvent> {
          for await (const e of expandedEvents(recorded.checkedLines())) {
            n++;
            yield e;
          }
        };
        for await (const line of perfettoTraceLines(events(), {
          runId,
          logHash: recorded.logHash,
        })) {
          await out.line(line);
        }
        return;
      }
      if (!opts.expand) {
        for await (const line of recorded.fileLines()) {
          await out.line(line);
          if (isEventLine(line)) n++;
        }
        return;
      }
      // version 1 needs its own hash in the header: a first pass checks the log and takes it
      const expanded = new LogHasher();
      for await (const line of expandedLines(recorded.checkedLines())) expanded.update(line);
      await out.line(recorded.headerLine(EXPANDED_LOG_FORMAT_VERSION, expanded.digest()));
      for await (const line of expandedLines(recorded.lines())) {
        await out.line(line);
        n++;
      }
    };
    if (output === null) {
      await fill(stdoutLines());
    } else {
      await writeFileAtomically(output, fill);
      process.stderr.write(
        `mnsim: exported ${n} events of run ${printable(runId)} to ${printable(output)}\n`,
      );
    }
    return EXIT_OK;
  } finally {
    await store.close();
  }
}

/** A format 2 log's events, each whole. */
async function* expandedEvents(lines: AsyncIterable<string>): AsyncGenerator<CanonicalEvent> {
  const expander = new LogExpander({ verify: false });
  for await (const line of lines) {
    const e = expander.line(line);
    if (e !== null) yield e;
  }
}

/** A format 2 log's lines as format 1's: each event whole. */
async function* expandedLines(lines: AsyncIterable<string>): AsyncGenerator<string> {
  for await (const e of expandedEvents(lines)) yield canonicalEventLine(e);
}
