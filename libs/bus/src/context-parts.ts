/**
 * The run's context parts as a worker sees them (@mnsim/runtime wire-context.ts): it turns the
 * contexts of the messages it sends into wire contexts, with the parts the run may not hold yet
 * for its save to write (run-state.ts), and the wire contexts of the messages it gets back into
 * whole contexts.
 *
 * A part's id is a hash of its JSON, so every worker names a part alike without asking anyone,
 * and a part read once serves every run that uses it: the values are cached by id alone. Which
 * parts a run holds in Redis is known per run: a part this worker saved or read for the run.
 * A part it is not sure of goes with its save again (HSETNX: it costs bytes, never a conflict).
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { ExecContext } from '@mnsim/kernel';
import {
  type ContextPart,
  type WireContext,
  contextPart,
  contextPartSchema,
  joinContext,
} from '@mnsim/runtime';
import { type PartEntry, type RunStateRepository, RunStateGoneError } from './run-state.js';

/** Distinct parts a worker keeps in memory (a handful per code path of the model). */
const CACHED_PARTS = 8192;
/** Run × part pairs a worker remembers as held by the run in Redis. */
const KNOWN_HELD = 65536;

function partId(json: string): string {
  return createHash('sha256').update(json).digest('base64url').slice(0, 16);
}

/** The parts of one save: the wire contexts of its outbox, and the parts to write with it. */
export class PartsWriter {
  private readonly fresh = new Map<string, string>();

  constructor(
    private readonly owner: ContextParts,
    private readonly runId: string,
  ) {}

  /** `ctx` as its message carries it. */
  wire(ctx: ExecContext): WireContext {
    const part = contextPart(ctx);
    const json = JSON.stringify(part);
    const id = partId(json);
    this.owner.remember(id, part);
    if (!this.owner.held(this.runId, id)) this.fresh.set(id, json);
    return { jiffies: ctx.jiffies, globals: { ...ctx.globals }, part: id };
  }

  /** What the save writes beside its records. */
  entries(): PartEntry[] {
    return [...this.fresh];
  }

  /** The save succeeded: the run holds these parts now. */
  saved(): void {
    for (const id of this.fresh.keys()) this.owner.markHeld(this.runId, id);
  }
}

export class ContextParts {
  private readonly values = new LRUCache<string, ContextPart>({ max: CACHED_PARTS });
  private readonly known = new LRUCache<string, true>({ max: KNOWN_HELD });

  constructor(private readonly runs: RunStateRepository) {}

  writer(runId: string): PartsWriter {
    return new PartsWriter(this, runId);
  }

  remember(id: string, part: ContextPart): void {
    this.values.set(id, part);
  }

  held(runId: string, id: string): boolean {
    return this.known.has(`${runId}\n${id}`);
  }

  markHeld(runId: string, id: string): void {
    this.known.set(`${runId}\n${id}`, true);
  }

  /**
   * The whole contexts of `wires`, from memory or, for the parts not in it, from the run's parts
   * in Redis (one read).
   * @throws RunStateGoneError when a part is missing because the run is not live
   */
  async resolve(runId: string, wires: readonly WireContext[]): Promise<ExecContext[]> {
    const parts = new Map<string, ContextPart>();
    const missing: string[] = [];
    for (const { part: id } of wires) {
      if (parts.has(id) || missing.includes(id)) continue;
      const part = this.values.get(id);
      if (part) parts.set(id, part);
      else missing.push(id);
    }
    if (missing.length > 0) await this.fetch(runId, missing, parts);
    return wires.map((w) => joinContext(w, parts.get(w.part) as ContextPart));
  }

  private async fetch(
    runId: string,
    ids: readonly string[],
    into: Map<string, ContextPart>,
  ): Promise<void> {
    const { live, parts } = await this.runs.contextParts(runId, ids);
    if (!live) throw new RunStateGoneError(runId);
    ids.forEach((id, i) => {
      const json = parts[i];
      if (json === null) {
        // written with the save of the record that sent the message: a bug, not a race
        throw new Error(`run ${runId}: a message refers to context part ${id}, which it lacks`);
      }
      if (partId(json) !== id) throw new Error(`run ${runId}: context part ${id} is corrupt`);
      const part = contextPartSchema.parse(JSON.parse(json));
      into.set(id, part);
      this.remember(id, part);
      this.markHeld(runId, id);
    });
  }
}
