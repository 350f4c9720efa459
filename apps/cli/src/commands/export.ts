/**
 * `mnsim export <runId> [-o log.jsonl]`: the run's log as JSON Lines. The first line is a header
 * (format, version, run, scenario, variant, seed, logHash, events); every other line is one event
 * in its canonical encoding, exactly the lines the logHash covers.
 */
import { once } from 'node:events';
import { canonicalEventLineFromPayload, LogHasher, printable } from '@mnsim/events';
import { LOG_FORMAT, LOG_FORMAT_VERSION } from '@mnsim/engine';
import { openStore } from '@mnsim/store';
import type { CliConfig } from '../config.js';
import { EXIT_OK, InfrastructureError, UsageError } from '../errors.js';
import { type LineWriter, writeFileAtomically } from '../output-file.js';

// the log format is defined once, by the engine that reads it back (import, replay)
export { LOG_FORMAT, LOG_FORMAT_VERSION };

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
  opts: { output?: string },
  config: CliConfig,
): Promise<number> {
  const output = opts.output !== undefined && opts.output !== '-' ? opts.output : null;
  const store = await openStore(config.store);
  try {
    const runId = await store.resolveRunId(ref);
    const run = await store.getRun(runId);
    if (!run) throw new UsageError(`no run matches '${ref}'`);
    if (run.status !== 'completed') {
      throw new UsageError(
        `run ${runId} is ${run.status}${run.failureReason ? ` (${run.failureReason})` : ''}: only completed runs can be exported`,
      );
    }
    const header = JSON.stringify({
      format: LOG_FORMAT,
      version: LOG_FORMAT_VERSION,
      runId,
      scenario: run.scenario,
      kernel: run.kernel,
      arch: run.arch,
      seed: run.seed,
      events: run.events,
      logHash: run.logHash,
    });
    let n = 0;
    /** the log, line by line; the stored lines checked against the run's logHash at the end */
    const fill = async (out: LineWriter): Promise<void> => {
      await out.line(header);
      const hasher = new LogHasher();
      for await (const e of store.iterateEvents(runId, 5000)) {
        const line = canonicalEventLineFromPayload(e, e.encodedPayload);
        hasher.update(line);
        await out.line(line);
        n++;
      }
      const hash = hasher.digest();
      if (n !== run.events || hash !== run.logHash) {
        throw new InfrastructureError(
          `the stored log of run ${runId} does not match its logHash (${n} events, ${hash}); the store is damaged`,
        );
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
