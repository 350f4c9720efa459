/**
 * The cluster's driver of the runtime's orchestrator (@mnsim/runtime orchestrator.ts, the same
 * pure function the embedded engine drives in-process). Each message on the orchestrator queue is
 * one step of it: the record is read from Redis, stepped, and saved with the events the step
 * emitted (the save sets the deadline of the chain it sent); then its outbox goes out as jobs:
 * the next stimulus's invoke to its component's queue, with the auditor's `flush` once
 * FLUSH_EVENTS events are staged, or at the run's end the auditor's `finish` (which flushes the
 * rest and closes the run). A redelivered message re-sends the outbox it produced. A chain past
 * its deadline is claimed by an orchestrator's ChainWatchdog, which sends the `timeout` that
 * fails the run.
 */
import type { Scenario, Stimulus } from '@mnsim/kernel';
import { DEFAULT_RUN_LIMITS } from '@mnsim/events';
import {
  AUDITOR_QUEUE,
  JOB,
  ORCHESTRATOR_JOBS,
  ORCHESTRATOR_QUEUE,
  type DoneMessage,
  type FinishMessage,
  type FlushMessage,
  type InvokeMessage,
  type Job,
  Orchestrator,
  type OrchestratorStep,
  RetryLaterError,
  type RunLabels,
  type StartMessage,
  jobId,
  parseJob,
  queueOf,
  toWireEvent,
} from '@mnsim/runtime';
import type { Bus, WorkerSettings } from './redis-bus.js';
import type { BusLogger } from './logger.js';
import {
  type OrchestratorRecord,
  type RunMeta,
  RunStateRepository,
  StaleStateError,
} from './run-state.js';
import { ChainWatchdog } from './chain-watchdog.js';
import { ContextParts } from './context-parts.js';
import { runQueues, unservedQueues, whoServes } from './cluster-watch.js';

/**
 * The auditor is sent a flush once this many events are staged: it stores them in one append
 * (a few statements), and a short run's events go in with its finish alone. Staged events wait
 * in Redis until then (about 700 bytes each).
 */
export const FLUSH_EVENTS = 256;

/** What this driver keeps in a run's record beside the orchestrator's state. */
type DriverFields = Pick<OrchestratorRecord, 'lastMsg' | 'flushedSeq' | 'timeoutMs'>;

/** The driver's fields of `rec` once message `msgKey` is handled. */
function driverFields(rec: OrchestratorRecord, msgKey: string): DriverFields {
  return { lastMsg: msgKey, flushedSeq: rec.flushedSeq, timeoutMs: rec.timeoutMs };
}

/** A message whose save found the record changed is applied again this many times at most. */
const STALE_RETRIES = 3;

export class OrchestratorProcessor {
  private readonly runs: RunStateRepository;
  /** the stimulus contexts the invokes refer to (wire-context.ts) */
  private readonly parts: ContextParts;

  constructor(
    private readonly bus: Bus,
    private readonly log: BusLogger,
  ) {
    this.runs = new RunStateRepository(bus.redis, bus.opts.prefix);
    this.parts = new ContextParts(this.runs);
  }

  /** Serves the orchestrator queue on this bus, and sweeps the chain deadlines until it closes. */
  start(settings: Omit<WorkerSettings, 'log'>): void {
    this.bus.serve(ORCHESTRATOR_QUEUE, (name, data) => this.handle(name, data), {
      ...settings,
      log: this.log,
    });
    new ChainWatchdog(this.bus, this.log).start();
  }

  async handle(name: string, data: unknown): Promise<void> {
    const job = parseJob(ORCHESTRATOR_JOBS, name, data);
    // another message of the run saved first (its save is a compare-and-set): apply this one to
    // the record it left, a few times, then leave it to BullMQ's retries
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.apply(job);
      } catch (err) {
        if (!(err instanceof StaleStateError) || attempt === STALE_RETRIES) throw err;
      }
    }
  }

  private apply(job: Job<(typeof ORCHESTRATOR_JOBS)[number]>): Promise<void> {
    switch (job.name) {
      case JOB.start:
        return this.onStart(job.data);
      case JOB.done:
        return this.onDone(job.data);
      case JOB.timeout: {
        const { runId, stimulusId } = job.data;
        return this.onFailure(runId, `t-${stimulusId}`, stimulusId, null);
      }
      case JOB.fail:
        return this.onFailure(job.data.runId, 'f', null, job.data.reason);
    }
  }

  private async onStart(msg: StartMessage): Promise<void> {
    const existing = await this.runs.orchestrator(msg.runId);
    if (existing) {
      if (existing.lastMsg === 'start') await this.bus.send(existing.outbox);
      return;
    }
    if (await this.runs.result(msg.runId)) return; // already closed: a late duplicate
    const scenario = {
      ...(msg.scenario as unknown as Scenario),
      kernel: msg.kernel,
      seed: msg.seed,
    };
    const meta: RunMeta = { scenario, kernel: msg.kernel, seed: msg.seed };
    await this.runs.putMeta(msg.runId, meta);
    const step = this.orchestrator(meta).step(null, { kind: 'start' });
    const rec = { lastMsg: 'start', outbox: [], flushedSeq: 0, timeoutMs: msg.timeoutMs };
    await this.commit(msg.runId, meta, rec, step, null);
  }

  private async onDone(msg: DoneMessage): Promise<void> {
    const msgKey = `d-${msg.stimulusId}`;
    const rec = await this.runs.orchestrator(msg.runId);
    const meta = await this.runs.meta(msg.runId);
    if (!rec || !meta) return;
    if (rec.lastMsg === msgKey) return this.bus.send(rec.outbox);
    const step = this.orchestrator(meta).step(rec, {
      kind: 'done',
      stimulusId: msg.stimulusId,
      ret: msg.ret,
      globals: msg.ctx.globals,
      cursor: msg.cursor,
    });
    await this.commit(msg.runId, meta, driverFields(rec, msgKey), step, rec.lastMsg);
  }

  /** The labels the auditor records the run's violations with. */
  private labels(meta: RunMeta): RunLabels {
    return { scenario: meta.scenario.name, kernel: meta.kernel, arch: meta.scenario.host.arch };
  }

  /** A chain that timed out (stimulusId) or a handler that threw (reason): the run fails. */
  private async onFailure(
    runId: string,
    msgKey: string,
    stimulusId: string | null,
    reason: string | null,
  ): Promise<void> {
    const rec = await this.runs.orchestrator(runId);
    const meta = await this.runs.meta(runId);
    if (!rec || !meta) {
      // a client's `fail` (it gave up on the run) that overtook the run's start, which an
      // orchestrator holds right now: once the start is handled, the run is there to fail
      const start = await this.bus.queue(ORCHESTRATOR_QUEUE).getJob(jobId(runId, 'start', 'run'));
      if (reason !== null && start && !(await start.isFailed())) {
        throw new RetryLaterError(`run ${runId}: its start is being handled; failing it after`);
      }
      return;
    }
    if (rec.lastMsg === msgKey) return this.bus.send(rec.outbox);
    if (rec.status !== 'running' || !rec.current) return;
    if (stimulusId !== null && rec.current.id !== stimulusId) return;
    const why = reason ?? (await this.timeoutReason(meta, rec, rec.current.stimulus));
    const step = this.orchestrator(meta).step(rec, {
      kind: 'fail',
      reason: why,
      ...(stimulusId === null ? {} : { stimulusId }),
    });
    await this.commit(runId, meta, driverFields(rec, msgKey), step, rec.lastMsg);
  }

  /**
   * Why a chain timed out, as far as the cluster can tell: the queues of the run that no worker
   * serves, whichever the chain was stuck on (its stimulus went to its first component only).
   */
  private async timeoutReason(
    meta: RunMeta,
    rec: OrchestratorRecord,
    s: Stimulus,
  ): Promise<string> {
    const chain = `the chain of ${rec.current?.id} (${s.fn} on ${s.to}) did not complete within ${rec.timeoutMs} ms`;
    const missing = await unservedQueues(this.bus, runQueues([meta.scenario.host.arch]));
    if (missing.length === 0) {
      return `${chain}, though every queue it needs has a worker (one may have died holding its job)`;
    }
    return `${chain}: ${missing.map((q) => `${whoServes(q)}, nothing serves queue "${q}"`).join('; ')}`;
  }

  /**
   * Persists the orchestrator's step (the record, the events it emitted, the deadline of the chain
   * it sent or none), then sends its outbox: the next stimulus's invoke, with the auditor's flush
   * once FLUSH_EVENTS are staged; or the auditor's finish at the run's end.
   */
  private async commit(
    runId: string,
    meta: RunMeta,
    driver: DriverFields,
    step: OrchestratorStep,
    /** the lastMsg of the stored record the step was computed from (null: there was none) */
    expected: string | null,
  ): Promise<void> {
    if (step.out === null) return; // nothing changed: a late duplicate, a chain no longer in flight
    // the driver's fields last: the state handed to step() is the stored record, and with it
    // the last message's key, which this message's must replace (a redelivery is known by it)
    const rec: OrchestratorRecord = { ...step.state, ...driver, outbox: [] };
    const out = step.out;
    const parts = this.parts.writer(runId);
    if (out.kind === 'invoke') {
      const { invoke } = out;
      rec.outbox.push({
        queue: queueOf(invoke.to),
        name: JOB.invoke,
        jobId: jobId(runId, 'invoke', invoke.id),
        data: {
          runId,
          ...invoke,
          ctx: parts.wire(invoke.ctx),
          replyTo: { kind: 'orchestrator' },
        } satisfies InvokeMessage,
      });
      if (rec.seq - rec.flushedSeq >= FLUSH_EVENTS) {
        // the id is the seq the flush covers: unique in the run, the same on a redelivery
        rec.flushedSeq = rec.seq;
        rec.outbox.push({
          queue: AUDITOR_QUEUE,
          name: JOB.flush,
          jobId: jobId(runId, 'flush', String(rec.seq)),
          data: { runId, meta: this.labels(meta) } satisfies FlushMessage,
        });
      }
    } else {
      rec.outbox.push({
        queue: AUDITOR_QUEUE,
        name: JOB.finish,
        jobId: jobId(runId, 'finish', out.status),
        data: {
          runId,
          meta: this.labels(meta),
          status: out.status,
          events: out.events,
          violations: out.violations,
          failureReason: out.failureReason,
        } satisfies FinishMessage,
        attempts: 150,
      });
    }
    await this.runs.saveOrchestrator(
      runId,
      rec,
      step.events.map(toWireEvent),
      expected,
      parts.entries(),
    );
    parts.saved();
    await this.bus.send(rec.outbox);
    if (out.kind === 'end' && out.status === 'failed') {
      this.log('warn', 'run failed', { runId, reason: out.failureReason });
    }
  }

  private orchestrator(meta: RunMeta): Orchestrator {
    return new Orchestrator(
      meta.scenario,
      this.bus.opts.maxRunEvents ?? DEFAULT_RUN_LIMITS.maxEvents,
    );
  }
}
