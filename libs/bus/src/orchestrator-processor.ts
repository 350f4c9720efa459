/**
 * The orchestrator's message handling: the kernel's RunScheduler decides what runs next, one
 * chain per run in flight. A stimulus is emitted here (its event, then an invoke to the target
 * component; the record's save sets the chain's deadline); the chain's `done` brings back the
 * return value, the context's globals and the seq cursor, and the next stimulus goes out, with
 * the auditor's `flush` once FLUSH_EVENTS events are staged. After the last one the run.end event
 * and the auditor's `finish` (which flushes the rest) close the run. A chain past its
 * deadline is claimed by an orchestrator's ChainWatchdog, which sends the `timeout` that fails
 * the run. Embedded twin: libs/engine simulate().
 */
import { type Scenario, type Stimulus, RunScheduler, makeContext, newGlobals } from '@mnsim/kernel';
import {
  DEFAULT_RUN_LIMITS,
  RUN_END_ID,
  RUN_START_ID,
  RunLimitExceededError,
  bootId,
  encodePayload,
  stepId,
} from '@mnsim/events';
import {
  EventBuilder,
  AUDITOR_QUEUE,
  JOB,
  ORCHESTRATOR_JOBS,
  ORCHESTRATOR_QUEUE,
  type DoneMessage,
  type FailMessage,
  type OutboxJob,
  RetryLaterError,
  type RunLabels,
  type StartMessage,
  type TimeoutMessage,
  type WireEvent,
  jobId,
  parseMessage,
  queueOf,
} from '@mnsim/runtime';
import type { Bus, WorkerSettings } from './redis-bus.js';
import type { BusLogger } from './logger.js';
import { type OrchestratorRecord, type RunMeta, RunStateRepository } from './run-state.js';
import { ChainWatchdog } from './chain-watchdog.js';
import { runQueues, unservedQueues, whoServes } from './cluster-watch.js';

/**
 * The auditor is sent a flush once this many events are staged: it stores them in one append
 * (a few statements), and a short run's events go in with its finish alone. Staged events wait
 * in Redis until then (about 700 bytes each).
 */
export const FLUSH_EVENTS = 256;

export class OrchestratorProcessor {
  private readonly runs: RunStateRepository;

  constructor(
    private readonly bus: Bus,
    private readonly log: BusLogger,
  ) {
    this.runs = new RunStateRepository(bus.redis, bus.opts.prefix);
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
    const msg = parseMessage(ORCHESTRATOR_JOBS, name, data);
    switch (name) {
      case JOB.start:
        return this.onStart(msg as StartMessage);
      case JOB.done:
        return this.onDone(msg as DoneMessage);
      case JOB.timeout: {
        const m = msg as TimeoutMessage;
        return this.onFailure(m.runId, `t-${m.stimulusId}`, m.stimulusId, null);
      }
      default: {
        const m = msg as FailMessage;
        return this.onFailure(m.runId, 'f', null, m.reason);
      }
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
    const scheduler = new RunScheduler(scenario);
    const events: WireEvent[] = [];
    const builder = this.builder(events, 0);
    builder.emit('run.start', RUN_START_ID, null, 0, {
      arch: scenario.host.arch,
      kernel: scenario.kernel,
      scenario,
      seed: scenario.seed,
    });
    const rec: OrchestratorRecord = {
      status: 'running',
      lastMsg: 'start',
      outbox: [],
      scheduler: scheduler.state,
      globals: newGlobals(),
      seq: builder.seq,
      flushedSeq: 0,
      violations: 0,
      boot: 0,
      current: null,
      timeoutMs: msg.timeoutMs,
      failureReason: null,
    };
    await this.advance(msg.runId, meta, rec, scheduler, events);
  }

  private async onDone(msg: DoneMessage): Promise<void> {
    const msgKey = `d-${msg.stimulusId}`;
    const rec = await this.runs.orchestrator(msg.runId);
    const meta = await this.runs.meta(msg.runId);
    if (!rec || !meta) return;
    if (rec.lastMsg === msgKey) return this.bus.send(rec.outbox);
    if (rec.status !== 'running' || rec.current?.id !== msg.stimulusId) return;
    const scheduler = this.scheduler(meta.scenario, rec);
    rec.globals = msg.ctx.globals;
    rec.seq = msg.cursor.seq;
    rec.violations = msg.cursor.violations;
    const maxEvents = this.bus.opts.maxRunEvents ?? DEFAULT_RUN_LIMITS.maxEvents;
    if (rec.seq > maxEvents) {
      // as the embedded engine's RunBudget says it, at the end of the chain that passed it
      const passed = new RunLimitExceededError('maxEvents', maxEvents, rec.seq, rec.seq - 1);
      return this.fail(msg.runId, meta, rec, msgKey, passed.message);
    }
    scheduler.done(rec.current.stimulus, msg.ret, msg.cursor.armed as never, rec.globals.panicked);
    rec.lastMsg = msgKey;
    await this.advance(msg.runId, meta, rec, scheduler, []);
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
    const s = rec.current.stimulus;
    await this.fail(runId, meta, rec, msgKey, reason ?? (await this.timeoutReason(meta, rec, s)));
  }

  /** Ends the run failed with `reason`: the auditor's finish closes it with what is staged. */
  private async fail(
    runId: string,
    meta: RunMeta,
    rec: OrchestratorRecord,
    msgKey: string,
    reason: string,
  ): Promise<void> {
    rec.status = 'failed';
    rec.failureReason = reason;
    rec.lastMsg = msgKey;
    rec.outbox = [this.finishJob(runId, meta, rec)];
    await this.runs.saveOrchestrator(runId, rec, []);
    await this.bus.send(rec.outbox);
    this.log('warn', 'run failed', { runId, reason });
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
   * Sends the next stimulus, or ends the run; persists the record (and with it the events emitted
   * here and the deadline of the new chain, or none), then sends its outbox: with the next
   * stimulus, the auditor's flush when FLUSH_EVENTS are staged; after the last, the finish.
   */
  private async advance(
    runId: string,
    meta: RunMeta,
    rec: OrchestratorRecord,
    scheduler: RunScheduler,
    events: WireEvent[],
  ): Promise<void> {
    const builder = this.builder(events, rec.seq);
    const stim: Stimulus | null = scheduler.next();
    const outbox: OutboxJob[] = [];
    if (stim) {
      const id = stim.timerId ?? (stim.step === null ? bootId(rec.boot++) : stepId(stim.step));
      const ctx = makeContext(stim.task, stim.stack, stim.jiffies, stim.cpu, rec.globals);
      builder.emit(
        stim.kind,
        id,
        stim.armedBy,
        stim.jiffies,
        builder.stimulusPayload(stim.args, ctx, stim.fn, stim.step, stim.to),
      );
      rec.current = { id, stimulus: stim };
      outbox.push({
        queue: queueOf(stim.to),
        name: JOB.invoke,
        jobId: jobId(runId, 'invoke', id),
        data: {
          runId,
          id,
          to: stim.to,
          fn: stim.fn,
          args: stim.args,
          ctx,
          cursor: { seq: builder.seq, violations: rec.violations, armed: [] },
          replyTo: { kind: 'orchestrator' },
        },
      });
    } else {
      builder.emit('run.end', RUN_END_ID, null, scheduler.state.now, {
        events: builder.seq + 1,
        status: 'completed',
        violations: rec.violations,
      });
      rec.current = null;
      rec.status = 'completed';
    }
    rec.seq = builder.seq;
    rec.scheduler = scheduler.state;
    if (!stim) outbox.push(this.finishJob(runId, meta, rec));
    else if (rec.seq - rec.flushedSeq >= FLUSH_EVENTS) {
      // the id is the seq the flush covers: unique in the run, the same on a redelivery
      rec.flushedSeq = rec.seq;
      outbox.push({
        queue: AUDITOR_QUEUE,
        name: JOB.flush,
        jobId: jobId(runId, 'flush', String(rec.seq)),
        data: { runId, meta: this.labels(meta) },
      });
    }
    rec.outbox = outbox;
    await this.runs.saveOrchestrator(runId, rec, events);
    await this.bus.send(outbox);
  }

  private finishJob(runId: string, meta: RunMeta, rec: OrchestratorRecord): OutboxJob {
    return {
      queue: AUDITOR_QUEUE,
      name: JOB.finish,
      jobId: jobId(runId, 'finish', rec.status),
      data: {
        runId,
        meta: this.labels(meta),
        status: rec.status === 'completed' ? 'completed' : 'failed',
        events: rec.seq,
        violations: rec.violations,
        failureReason: rec.failureReason,
      },
      attempts: 150,
    };
  }

  private scheduler(scenario: Scenario, rec: OrchestratorRecord): RunScheduler {
    const s = new RunScheduler(scenario);
    Object.assign(s.state, rec.scheduler);
    return s;
  }

  private builder(events: WireEvent[], seq: number): EventBuilder {
    return new EventBuilder(
      (e) =>
        events.push({
          id: e.id,
          seq: e.seq,
          type: e.type,
          causationId: e.causationId,
          jiffies: e.jiffies,
          payload: encodePayload(e.type, e.payload),
        }),
      seq,
    );
  }
}
