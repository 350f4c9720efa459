/**
 * The auditor: moves the events the workers staged in Redis to the event store, and the
 * violations among them to the violations projection (idempotent by (run, seq) in the store), in
 * batches (`flush`); and closes a run when the orchestrator says it ended (`finish`): once every
 * event is stored, the logHash is computed from the stored lines, so the hash vouches for what the
 * store holds, and only for a log whose events are the run's (as many as it emitted, ids unique).
 */
import type { ViolationRecord } from '@mnsim/kernel';
import { LRUCache } from 'lru-cache';
import { LogHasher, LogInterner, envelopeOf, violationWithSeq } from '@mnsim/events';
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
  /** the interner of each run this auditor stored the last events of, and the seq it is at */
  private readonly logs = new LRUCache<string, { interner: LogInterner; next: number }>({
    max: 256,
  });

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
  private async flush(msg: FlushMessage, pastGaps = false): Promise<void> {
    const { events } = await this.runs.stagedEvents(msg.runId);
    if (events.length === 0) return;
    const done = await this.append(msg.runId, msg.meta, events, pastGaps);
    await this.runs.unstage(msg.runId, done);
  }

  /**
   * Stores the run's next events, interned into its format 2 log in seq order: those that follow
   * the last one stored without a gap (with `pastGaps`, all of them). Returns the staged fields
   * that are now in the store, those already there included.
   *
   * Any auditor may take any flush of a run. Interning is deterministic, so two that store the
   * same events write the same rows; the interner goes on from the run's stored definitions
   * unless this auditor stored the run's last events itself.
   */
  private async append(
    runId: string,
    meta: RunLabels,
    staged: WireEvent[],
    pastGaps: boolean,
  ): Promise<string[]> {
    const next = await this.store.nextSeq(runId);
    let log = this.logs.get(runId);
    if (log?.next !== next) {
      log = { interner: LogInterner.resume(await this.store.readLogDefs(runId, next - 1)), next };
    }
    this.logs.delete(runId); // until this append is stored
    const recordedAt = new Date().toISOString();
    const events: EventToAppend[] = [];
    const violations: ViolationToAppend[] = [];
    const done: string[] = [];
    const lines: string[] = [];
    for (const e of staged) {
      if (e.seq > log.next && !pastGaps) break; // the gap's events are still in flight
      done.push(String(e.seq));
      if (e.seq < log.next) continue; // stored by an earlier flush
      log.interner.pushEncoded(e, e.payload, lines);
      log.next = e.seq + 1;
      events.push({ event: envelopeOf(runId, e, recordedAt), lines: [...lines] });
      lines.length = 0;
      if (e.type === 'violation') {
        const payload = JSON.parse(e.payload) as { violation: ViolationRecord };
        violations.push({
          eventId: e.id,
          v: violationWithSeq(e.seq, payload.violation),
          ...meta,
          recordedAt,
        });
      }
    }
    await this.store.appendEvents(runId, events, violations);
    this.logs.set(runId, log);
    return done;
  }

  private async finish(msg: FinishMessage): Promise<void> {
    // a failed run's events after a gap are kept too: the gap's will never come
    await this.flush(msg, msg.status !== 'completed');
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
    // the logHash covers the run's format 2 log, as stored
    const hasher = new LogHasher();
    const ids = new Set<string>();
    let repeated: string | null = null;
    for await (const e of this.store.iterateLog(msg.runId, 5000)) {
      if (e.seq !== stored) break; // a gap: a batch is still in flight
      stored++;
      if (e.type === 'violation') violations++;
      if (ids.has(e.id)) repeated ??= `${e.id} (again at seq ${e.seq})`;
      ids.add(e.id);
      for (const line of e.lines) hasher.update(line);
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
    // two events of one id: the same, as for extra events (ids derive from causation)
    const completed = msg.status === 'completed' && !extra && repeated === null;
    const outcome = {
      runId: msg.runId,
      status: completed ? ('completed' as const) : ('failed' as const),
      events: stored,
      logHash: completed ? hasher.digest() : null,
      violations,
      failureReason: extra
        ? `the store holds ${stored} events of run ${msg.runId}, but the run emitted ${msg.events}`
        : msg.status === 'completed' && repeated !== null
          ? `the store holds two events of run ${msg.runId} with the id ${repeated}`
          : msg.failureReason,
    };
    await this.store.finishRun(msg.runId, outcome);
    await this.runs.close(outcome);
    this.log('info', 'run closed', { ...outcome });
    return true;
  }
}
