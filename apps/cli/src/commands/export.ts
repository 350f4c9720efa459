/**
 * `mnsim export <runId> [-o log.jsonl]`: the run's log as JSON Lines. The first line is a header
 * (format, version, run, scenario, variant, seed, logHash, events); every other line is one event
 * in its canonical encoding, exactly the lines the logHash covers.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { canonicalEventLineFromPayload, LogHasher, printable } from '@mnsim/events';
import { LOG_FORMAT, LOG_FORMAT_VERSION } from '@mnsim/engine';
import { openStore } from '@mnsim/store';
import type { CliConfig } from '../config.js';
import { EXIT_OK, InfrastructureError, UsageError } from '../errors.js';

// the log format is defined once, by the engine that reads it back (import, replay)
export { LOG_FORMAT, LOG_FORMAT_VERSION };

export async function exportCommand(
  ref: string,
  opts: { output?: string },
  config: CliConfig,
): Promise<number> {
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
    const out =
      opts.output && opts.output !== '-' ? createWriteStream(opts.output) : process.stdout;
    const write = async (line: string): Promise<void> => {
      if (!out.write(line + '\n')) await once(out, 'drain');
    };
    await write(
      JSON.stringify({
        format: LOG_FORMAT,
        version: LOG_FORMAT_VERSION,
        runId,
        scenario: run.scenario,
        kernel: run.kernel,
        arch: run.arch,
        seed: run.seed,
        events: run.events,
        logHash: run.logHash,
      }),
    );
    const hasher = new LogHasher();
    let n = 0;
    for await (const e of store.iterateEvents(runId, 5000)) {
      const line = canonicalEventLineFromPayload(e, e.encodedPayload);
      hasher.update(line);
      await write(line);
      n++;
    }
    if (out !== process.stdout) {
      (out as ReturnType<typeof createWriteStream>).end();
      await once(out, 'finish');
    }
    const hash = hasher.digest();
    if (n !== run.events || hash !== run.logHash) {
      throw new InfrastructureError(
        `the stored log of run ${runId} does not match its logHash (${n} events, ${hash}); the store is damaged`,
      );
    }
    if (opts.output && opts.output !== '-')
      process.stderr.write(
        `mnsim: exported ${n} events of run ${printable(runId)} to ${printable(opts.output)}\n`,
      );
    return EXIT_OK;
  } finally {
    await store.close();
  }
}
