/**
 * The auditor: moves the events the workers staged in Redis to the event store, and the
 * violations among them to the violations projection (idempotent by (run, seq) and (run, id) in
 * the store), in batches (`flush`); and closes a run when the orchestrator says it ended
 * (`finish`): once every event is stored, the logHash is computed from the stored canonical
 * lines, so the hash vouches for what the store holds.
 */
import type { ViolationRecord } from '@mnsim/kernel';
import { LogHasher, LogInterner, type Json, runEventOf, violationWithSeq } from '@mnsim/events';
import type { EventToAppend, Store, ViolationToAppend } from '@mnsim/store';
import {
  AUDITOR_JOBS,
  AUDITOR_QUEUE,
  JOB,
  type FinishMessage,
  type FlushMessage,
  RetryLaterError,
  type RunLabels,
  type WireEvent,
  parseJob,
} from '@mnsim/runtime';
import type { Bus, WorkerSettings } from './redis-bus.js';
import type { BusLogger } from './logger.js';
import { RunStateRepository } from './run-state.js';

/** Thrown while batches of the run are still in flight: BullMQ retries the finish later. */
export class RunNotYetCompleteError extends RetryLaterError {}

export class AuditorProcessor {
  private readonly runs: RunStateRepository;

  constructor(
    private readonly bus: Bus,
    private readonly store: Store,
    private readonly log: BusLogger,
  ) {
    this.runs = new RunStateRepository(bus.redis, bus.opts.prefix);
  }

  start(settings: Omit<WorkerSettings, 'log'>): void {
    this.bus.serve(AUDITOR_QUEUE, (name, data) => this.handle(name, data), {
      ...settings,
      log: this.log,
    });
  }

  async handle(name: string, data: unknown): Promise<void> {
    const job = parseJob(AUDITOR_JOBS, name, data);
    if (job.name === JOB.flush) await this.flush(job.data);
    else await this.finish(job.data);
  }

  /**
   * Moves the run's staged events to the store, then deletes them from Redis: a flush that dies
   * in between is redelivered and appends them again, which the store ignores.
   */
  private async flush(msg: FlushMessage): Promise<void> {
    const { events, fields } = await this.runs.stagedEvents(msg.runId);
    if (events.length === 0) return;
    await this.append(msg.runId, msg.meta, events);
    await this.runs.unstage(msg.runId, fields);
  }

  private async append(runId: string, meta: RunLabels, staged: WireEvent[]): Promise<void> {
    const recordedAt = new Date().toISOString();
    const events: EventToAppend[] = [];
    const violations: ViolationToAppend[] = [];
    for (const e of staged) {
      const payload = JSON.parse(e.payload) as Json;
      events.push({
        event: runEventOf(runId, e, payload, recordedAt),
        encodedPayload: e.payload,
      });
      if (e.type === 'violation') {
        const v = (payload as unknown as { violation: ViolationRecord }).violation;
        violations.push({ eventId: e.id, v: violationWithSeq(e.seq, v), ...meta, recordedAt });
      }
    }
    await this.store.appendEvents(runId, events, violations);
  }

  private async finish(msg: FinishMessage): Promise<void> {
    await this.flush(msg);
    // a flush of the run may be writing right now: wait a little before retrying later
    for (let i = 0; i < 20; i++) {
      if (await this.close(msg, i === 19)) return;
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Closes the run if every event is stored; false (or RunNotYetCompleteError on `last`) if not. */
  private async close(msg: FinishMessage, last: boolean): Promise<boolean> {
    let stored = 0;
    let violations = 0;
    // the logHash covers the run's format 2 log: the stored events interned in seq order
    const hasher = new LogHasher();
    const interner = new LogInterner();
    const lines: string[] = [];
    for await (const e of this.store.iterateEvents(msg.runId, 5000)) {
      if (e.seq !== stored) break; // a gap: a batch is still in flight
      stored++;
      if (e.type === 'violation') violations++;
      interner.pushEncoded(e, e.encodedPayload, lines);
      for (const line of lines) hasher.update(line);
      lines.length = 0;
    }
    if (msg.status === 'completed' && stored < msg.events) {
      if (!last) return false;
      throw new RunNotYetCompleteError(
        `run ${msg.runId}: ${stored} of ${msg.events} events stored so far`,
      );
    }
    // More events than the run emitted can only be events that are not the run's (a worker
    // going on from state that is not the run's): never vouch for them with a hash.
    const extra = msg.status === 'completed' && stored > msg.events;
    const completed = msg.status === 'completed' && !extra;
    const outcome = {
      runId: msg.runId,
      status: completed ? ('completed' as const) : ('failed' as const),
      events: stored,
      logHash: completed ? hasher.digest() : null,
      violations,
      failureReason: extra
        ? `the store holds ${stored} events of run ${msg.runId}, but the run emitted ${msg.events}`
        : msg.failureReason,
    };
    await this.store.finishRun(msg.runId, outcome);
    await this.runs.close(outcome);
    this.log('info', 'run closed', { ...outcome });
    return true;
  }
}
