/**
 * What the workers keep per run in Redis, as JSON under the bus prefix:
 *   <prefix>:run:<runId>:scenario   the normalized scenario, variant and seed
 *   <prefix>:run:<runId>:c          hash component -> { state, applied }   (state after the last handler)
 *   <prefix>:run:<runId>:h          hash handler id -> Continuation
 *   <prefix>:run:<runId>:orch       the orchestrator's record of the run
 *   <prefix>:result:<runId>         the outcome, once the auditor has closed the run (kept a day)
 * Each record is written with the id of the last message applied and the jobs that message
 * produced, before those jobs are sent: a redelivered message re-sends them and changes nothing.
 */
import type { Redis } from 'ioredis';
import type {
  KernelGlobals,
  KernelVariant,
  Scenario,
  SchedulerState,
  Stimulus,
} from '@mnsim/kernel';
import type { InvokeMessage, OutboxJob } from './messages.js';
import type { RecordedReply } from './replay.js';

export interface RunMeta {
  scenario: Scenario;
  kernel: KernelVariant;
  seed: number;
}

export interface ComponentRecord {
  state: unknown;
  /** the handler whose return produced this state */
  applied: string;
}

/** Message keys within one handler: `i` (its invoke), then `r0`, `r1`, … (replies). */
export interface Continuation {
  status: 'suspended' | 'returned';
  lastMsg: string;
  outbox: OutboxJob[];
  /** while suspended: everything a re-execution needs */
  invoke?: InvokeMessage;
  snapshot?: unknown;
  replies?: RecordedReply[];
  emitted?: number;
}

export interface OrchestratorRecord {
  status: 'running' | 'completed' | 'failed';
  lastMsg: string;
  outbox: OutboxJob[];
  scheduler: SchedulerState;
  globals: KernelGlobals;
  seq: number;
  violations: number;
  boot: number;
  current: { id: string; stimulus: Stimulus } | null;
  timeoutMs: number;
  failureReason: string | null;
}

export interface RunOutcome {
  runId: string;
  status: 'completed' | 'failed';
  events: number;
  logHash: string | null;
  violations: number;
  failureReason: string | null;
}

const RESULT_TTL_SECONDS = 24 * 3600;

export class RunStateRepository {
  private readonly metaCache = new Map<string, RunMeta>();

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private runKey(runId: string, part: string): string {
    return `${this.prefix}:run:${runId}:${part}`;
  }

  resultKey(runId: string): string {
    return `${this.prefix}:result:${runId}`;
  }

  async putMeta(runId: string, meta: RunMeta): Promise<void> {
    await this.redis.set(this.runKey(runId, 'scenario'), JSON.stringify(meta));
  }

  /** null once the run is closed (or was never started): its messages are dropped. */
  async meta(runId: string): Promise<RunMeta | null> {
    const cached = this.metaCache.get(runId);
    if (cached) return cached;
    const raw = await this.redis.get(this.runKey(runId, 'scenario'));
    if (raw === null) return null;
    const meta = JSON.parse(raw) as RunMeta;
    if (this.metaCache.size >= 1000) {
      const oldest = this.metaCache.keys().next().value;
      if (oldest !== undefined) this.metaCache.delete(oldest);
    }
    this.metaCache.set(runId, meta);
    return meta;
  }

  async component(runId: string, component: string): Promise<ComponentRecord | null> {
    const raw = await this.redis.hget(this.runKey(runId, 'c'), component);
    return raw === null ? null : (JSON.parse(raw) as ComponentRecord);
  }

  async continuation(runId: string, handlerId: string): Promise<Continuation | null> {
    const raw = await this.redis.hget(this.runKey(runId, 'h'), handlerId);
    return raw === null ? null : (JSON.parse(raw) as Continuation);
  }

  /** Writes the continuation, and the component's new state when the handler returned, at once. */
  async saveHandler(
    runId: string,
    handlerId: string,
    cont: Continuation,
    component: { name: string; record: ComponentRecord } | null,
  ): Promise<void> {
    const m = this.redis.multi();
    m.hset(this.runKey(runId, 'h'), handlerId, JSON.stringify(cont));
    if (component)
      m.hset(this.runKey(runId, 'c'), component.name, JSON.stringify(component.record));
    await m.exec();
  }

  async orchestrator(runId: string): Promise<OrchestratorRecord | null> {
    const raw = await this.redis.get(this.runKey(runId, 'orch'));
    return raw === null ? null : (JSON.parse(raw) as OrchestratorRecord);
  }

  async saveOrchestrator(runId: string, rec: OrchestratorRecord): Promise<void> {
    await this.redis.set(this.runKey(runId, 'orch'), JSON.stringify(rec));
  }

  async result(runId: string): Promise<RunOutcome | null> {
    const raw = await this.redis.get(this.resultKey(runId));
    return raw === null ? null : (JSON.parse(raw) as RunOutcome);
  }

  /** Records the outcome and drops the run's working state. */
  async close(outcome: RunOutcome): Promise<void> {
    const runId = outcome.runId;
    await this.redis
      .multi()
      .set(this.resultKey(runId), JSON.stringify(outcome), 'EX', RESULT_TTL_SECONDS)
      .del(
        this.runKey(runId, 'scenario'),
        this.runKey(runId, 'c'),
        this.runKey(runId, 'h'),
        this.runKey(runId, 'orch'),
      )
      .exec();
    this.metaCache.delete(runId);
  }
}
