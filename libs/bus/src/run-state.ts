/**
 * What the workers keep per run in Redis, as JSON under the bus prefix:
 *   <prefix>:run:<runId>:scenario   the normalized scenario, variant and seed
 *   <prefix>:run:<runId>:c          hash component -> { state, applied }   (state after the last handler)
 *   <prefix>:run:<runId>:cv         hash component -> applied: the version of its record in `c`
 *   <prefix>:run:<runId>:h          hash handler id -> its continuation's head (status, lastMsg,
 *                                   outbox, emitted)
 *   <prefix>:run:<runId>:hv         hash handler id -> lastMsg: the version of its continuation
 *   <prefix>:run:<runId>:hb         hash handler id -> { invoke, snapshot }, while it is suspended
 *   <prefix>:run:<runId>:hr         hash "<handler id>|<k>" -> its reply k, while it is suspended
 *   <prefix>:run:<runId>:orch       the orchestrator's record of the run
 *   <prefix>:run:<runId>:parts      hash part id -> a context part (@mnsim/runtime wire-context.ts):
 *                                   what the messages, continuations and outboxes refer to by id;
 *                                   each is written (HSETNX) with the save of the first record
 *                                   that refers to it, so it is there before any message
 *                                   that refers to it is sent
 *   <prefix>:run:<runId>:ev         hash seq -> event (WireEvent JSON): events staged for the
 *                                   auditor, written with the record of the handler (or the
 *                                   orchestrator step) that emitted them; the auditor moves them
 *                                   to the event store in batches (flush, finish), deletes them
 *   <prefix>:result:<runId>         the outcome, once the auditor has closed the run (kept a day)
 *   <prefix>:chain-deadlines        sorted set runId -> when its chain in flight times out (ms,
 *                                   Redis's clock), with <prefix>:chain-stimulus (hash runId ->
 *                                   that chain's stimulus id): the orchestrators' watchdog
 * Each record is written with the id of the last message applied and the jobs that message
 * produced, before those jobs are sent: a redelivered message re-sends them and changes nothing.
 * A suspended handler's continuation is kept in parts: what does not change while it is suspended
 * (its invoke, the component state it started from) is written once, at its first suspension,
 * and each later save adds only the reply it applied. A save costs the same whatever the number
 * of calls the handler made before (an oom_reaper over a thousand VMAs suspends two thousand
 * times), where a whole continuation written each time grows with every reply.
 * A handler's save is a compare-and-set on the versions it was computed from (`hv`, and `cv` for
 * the component state it started from), so a worker computing from its in-memory copy of a
 * record never overwrites a newer one: it learns it is stale (StaleStateError) and reads it.
 *
 * The scenario key marks a live run: written first at start, removed with the rest at close.
 * Records are written only while it exists (one script), so a worker never writes a run's state
 * into a Redis that lost the run (restarted empty, flushed) or after the run closed: it would go
 * on from state that is not the run's (initial component states) and send events that are not.
 */
import type { Redis } from 'ioredis';
import type { KernelVariant, Scenario } from '@mnsim/kernel';
import type {
  InvokeMessage,
  OrchestratorState,
  OutboxJob,
  WireEvent,
  ReplyMessage,
} from '@mnsim/runtime';

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

/** A message key's place in its handler: -1 for `i`, k for `rk`. */
export function msgIndex(key: string): number {
  return key === 'i' ? -1 : Number(key.slice(1));
}

/** A reply a suspended handler applied, as it came: its context by reference. */
export type StoredReply = Pick<ReplyMessage, 'ret' | 'ctx' | 'cursor'>;

/** A context part a save writes for the messages it sends: its id and its JSON. */
export type PartEntry = readonly [id: string, json: string];

/** Message keys within one handler: `i` (its invoke), then `r0`, `r1`, … (replies). */
export interface Continuation {
  status: 'suspended' | 'returned';
  lastMsg: string;
  outbox: OutboxJob[];
  /** while suspended: everything a re-execution needs */
  invoke?: InvokeMessage;
  snapshot?: unknown;
  replies?: StoredReply[];
  emitted?: number;
}

/** The runtime orchestrator's state of a run, with what this driver keeps beside it. */
export interface OrchestratorRecord extends OrchestratorState {
  /** the key of the last message handled: its redelivery re-sends `outbox` */
  lastMsg: string;
  outbox: OutboxJob[];
  /** the seq below which the events are covered by a flush already sent to the auditor */
  flushedSeq: number;
  timeoutMs: number;
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

/** The channel on which the auditor announces every run it closes (the run id as message). */
export function runClosedChannel(prefix: string): string {
  return `${prefix}:closed`;
}

/**
 * The run's state is not in Redis (any more): closed, or Redis lost it. Whatever the message was
 * going to produce is dropped; the transport logs it and completes the job (redis-bus.ts).
 */
export class RunStateGoneError extends Error {
  constructor(readonly runId: string) {
    super(
      `run ${runId}: its state is not in Redis (closed, or Redis restarted or flushed): message dropped`,
    );
  }
}

/**
 * A handler's save found a newer continuation (or component state) than the one it was computed
 * from: another delivery of the message got there first, or the worker's in-memory copy was
 * stale (ComponentProcessor also throws it when a handler run from that copy throws). Nothing
 * was written; the caller reads the records and applies the message again.
 */
export class StaleStateError extends Error {
  constructor(
    readonly runId: string,
    readonly handlerId: string,
  ) {
    super(`run ${runId}: the state of handler ${handlerId} changed since it was read`);
  }
}

/**
 * The versions a handler's save expects to replace: its continuation's lastMsg ('' for none yet)
 * and, for a handler that started from a component state, that state's `applied` ('' for the
 * initial state).
 */
export interface SaveVersions {
  handler: string;
  component: { name: string; applied: string } | null;
}

/** What a suspended handler's continuation keeps unchanged until it returns. */
interface ContinuationBase {
  invoke: InvokeMessage;
  snapshot: unknown;
}

/** A continuation as one save writes it (see the file's comment). */
interface ContinuationParts {
  head: Pick<Continuation, 'status' | 'lastMsg' | 'outbox' | 'emitted'>;
  /** at the handler's first suspension */
  base: ContinuationBase | null;
  /** the reply the handler applied, when it stays suspended after it */
  reply: { index: number; reply: StoredReply } | null;
  /** when the handler returned: how many replies were kept for it (to drop, with its base) */
  dropKept: number | null;
}

/**
 * The parts of `cont` a save writes over the continuation of version `previous`: the base once,
 * then one reply per save (the save's compare-and-set on the version is what makes the replies
 * already kept those of `cont`).
 */
function splitContinuation(cont: Continuation, previous: string): ContinuationParts {
  const head = { status: cont.status, lastMsg: cont.lastMsg, outbox: cont.outbox };
  if (cont.status === 'returned') {
    return { head, base: null, reply: null, dropKept: previous ? msgIndex(previous) + 1 : 0 };
  }
  if (!cont.invoke || !cont.replies) {
    throw new Error(`a suspended continuation (${cont.lastMsg}) without its invoke or replies`);
  }
  const suspended = { ...head, emitted: cont.emitted };
  const index = cont.replies.length - 1;
  if (cont.replies.length !== msgIndex(cont.lastMsg) + 1) {
    throw new Error(
      `a continuation of version ${cont.lastMsg} with ${cont.replies.length} replies`,
    );
  }
  return {
    head: suspended,
    base: previous ? null : { invoke: cont.invoke, snapshot: cont.snapshot ?? null },
    reply: index >= 0 ? { index, reply: cont.replies[index] } : null,
    dropKept: null,
  };
}

/** A continuation from what mnsimHandlerState read of it. */
function joinContinuation(
  runId: string,
  handlerId: string,
  head: string,
  base: string | null,
  replies: ReadonlyArray<string | null>,
): Continuation {
  const cont = JSON.parse(head) as Continuation;
  if (cont.status !== 'suspended') return cont;
  if (base === null || replies.includes(null)) {
    throw new Error(`run ${runId}: handler ${handlerId} is suspended, but its state is not whole`);
  }
  const { invoke, snapshot } = JSON.parse(base) as ContinuationBase;
  return {
    ...cont,
    invoke,
    snapshot,
    replies: replies.map((r) => JSON.parse(r as string) as StoredReply),
  };
}

/** Lua, prefixed to the scripts that need it: Redis's clock in ms, which every orchestrator shares. */
const LUA_NOW_MS = `
local function nowMs()
  local t = redis.call('time')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end`;

/**
 * The scripts of the run state, defined on the connection (ioredis sends them by SHA, EVALSHA,
 * loading them once). Every write checks first that the run is live.
 */
const SCRIPTS = {
  /**
   * KEYS: the scenario key, h, hv, c, cv, ev, hb, hr, parts; ARGV: handler id, its expected version,
   * its continuation's head, its new version (lastMsg), the component ('' for none), its expected
   * version after a '=' ('' for no check), its new record ('' for none), its new version, the
   * handler's base at its first suspension ('' for none), the index of the reply it applied and
   * the reply, to keep while it stays suspended ('' for none), the number of its replies kept so
   * far to drop with its base as it returns ('' to keep them), the number of context parts n,
   * then n pairs part id, part, then seq, event, …: a handler's save, if the run is live (else 0) and the versions are the expected ones (else 2).
   */
  mnsimSaveHandler: `
if redis.call('exists', KEYS[1]) == 0 then return 0 end
local id = ARGV[1]
if (redis.call('hget', KEYS[3], id) or '') ~= ARGV[2] then return 2 end
local component = ARGV[5]
if ARGV[6] ~= '' and (redis.call('hget', KEYS[5], component) or '') ~= string.sub(ARGV[6], 2) then
  return 2
end
redis.call('hset', KEYS[2], id, ARGV[3])
redis.call('hset', KEYS[3], id, ARGV[4])
if ARGV[7] ~= '' then
  redis.call('hset', KEYS[4], component, ARGV[7])
  redis.call('hset', KEYS[5], component, ARGV[8])
end
if ARGV[9] ~= '' then redis.call('hset', KEYS[7], id, ARGV[9]) end
if ARGV[11] ~= '' then redis.call('hset', KEYS[8], id .. '|' .. ARGV[10], ARGV[11]) end
if ARGV[12] ~= '' then
  redis.call('hdel', KEYS[7], id)
  for k = 0, tonumber(ARGV[12]) - 1 do redis.call('hdel', KEYS[8], id .. '|' .. k) end
end
local parts = tonumber(ARGV[13])
for i = 14, 13 + 2 * parts, 2 do redis.call('hsetnx', KEYS[9], ARGV[i], ARGV[i + 1]) end
for i = 14 + 2 * parts, #ARGV, 2 do redis.call('hset', KEYS[6], ARGV[i], ARGV[i + 1]) end
return 1`,
  /**
   * KEYS: the scenario key, the record key, the deadlines zset, the deadline stimulus hash, the
   * staged events hash, the context parts hash; ARGV: the record, the run id, the stimulus in
   * flight ('' for none), the chain timeout (ms), the lastMsg of the record it was computed from
   * ('' for none), the number of context parts n, then n pairs part id, part, then seq, event, …: the orchestrator's record, the events it emitted and its chain's deadline (on
   * Redis's clock, so every orchestrator agrees), if the run is live (else 0) and the stored
   * record is still the one it was computed from (else 2).
   */
  mnsimSaveOrchestrator: `${LUA_NOW_MS}
if redis.call('exists', KEYS[1]) == 0 then return 0 end
local cur = redis.call('get', KEYS[2])
if ARGV[5] == '' then
  if cur then return 2 end
elseif (not cur) or cjson.decode(cur).lastMsg ~= ARGV[5] then
  return 2
end
redis.call('set', KEYS[2], ARGV[1])
local parts = tonumber(ARGV[6])
for i = 7, 6 + 2 * parts, 2 do redis.call('hsetnx', KEYS[6], ARGV[i], ARGV[i + 1]) end
for i = 7 + 2 * parts, #ARGV, 2 do redis.call('hset', KEYS[5], ARGV[i], ARGV[i + 1]) end
if ARGV[3] == '' then
  redis.call('zrem', KEYS[3], ARGV[2])
  redis.call('hdel', KEYS[4], ARGV[2])
else
  redis.call('zadd', KEYS[3], nowMs() + tonumber(ARGV[4]), ARGV[2])
  redis.call('hset', KEYS[4], ARGV[2], ARGV[3])
end
return 1`,
  /**
   * KEYS: the deadlines zset, the deadline stimulus hash; ARGV: the run key prefix, the retry
   * delay (ms), the most to claim: the chains past their deadline, as run id, stimulus id, ….
   * A claimed deadline moves on by the retry delay rather than going (the orchestrator that
   * claimed it may die before it sends the timeout); the record's next save replaces it. A run
   * that is no longer live loses its deadline.
   */
  mnsimClaimExpiredChains: `${LUA_NOW_MS}
local now = nowMs()
local due = redis.call('zrangebyscore', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, runId in ipairs(due) do
  local stimulus = redis.call('hget', KEYS[2], runId)
  if stimulus and redis.call('exists', ARGV[1] .. runId .. ':scenario') == 1 then
    redis.call('zadd', KEYS[1], now + tonumber(ARGV[2]), runId)
    out[#out + 1] = runId
    out[#out + 1] = stimulus
  else
    redis.call('zrem', KEYS[1], runId)
    redis.call('hdel', KEYS[2], runId)
  end
end
return out`,
  /**
   * KEYS: h, c, hv, hb, hr; ARGV: handler id, component ('' for none): a handler's continuation
   * (its head and, while it is suspended, its base and its replies: as many as its version says)
   * and its component's state, in one round trip.
   */
  mnsimHandlerState: `
local id = ARGV[1]
local head = redis.call('hget', KEYS[1], id)
local component = false
if ARGV[2] ~= '' then component = redis.call('hget', KEYS[2], ARGV[2]) end
local base = redis.call('hget', KEYS[4], id)
if not base then return {head, component} end
local out = {head, component, base}
local version = redis.call('hget', KEYS[3], id) or 'i'
if string.sub(version, 1, 1) == 'r' then
  for k = 0, tonumber(string.sub(version, 2)) do
    out[#out + 1] = redis.call('hget', KEYS[5], id .. '|' .. k)
  end
end
return out`,
} as const;

type ScriptName = keyof typeof SCRIPTS;
type ScriptRedis = Redis & Record<ScriptName, (...args: string[]) => Promise<unknown>>;

/** Defines the scripts on a connection once (every repository on it shares them). */
function withScripts(redis: Redis): ScriptRedis {
  const r = redis as ScriptRedis;
  for (const [name, lua] of Object.entries(SCRIPTS)) {
    if (typeof r[name as ScriptName] !== 'function') {
      // each script's keys come first; the count is given per call
      redis.defineCommand(name, { lua });
    }
  }
  return r;
}

/** What a waiting client needs, read at once: the outcome, whether the run is live, its record. */
export interface RunLiveness {
  outcome: RunOutcome | null;
  live: boolean;
  orchestrator: OrchestratorRecord | null;
}

export class RunStateRepository {
  private readonly metaCache = new Map<string, RunMeta>();
  private readonly redis: ScriptRedis;

  constructor(
    redis: Redis,
    private readonly prefix: string,
  ) {
    this.redis = withScripts(redis);
  }

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

  /**
   * A handler's continuation and, when `component` is given, that component's state after the
   * last handler that returned: what a component worker reads for each message, in one read.
   */
  async handlerState(
    runId: string,
    handlerId: string,
    component: string | null,
  ): Promise<{ continuation: Continuation | null; component: ComponentRecord | null }> {
    const keys = ['h', 'c', 'hv', 'hb', 'hr'].map((part) => this.runKey(runId, part));
    // a handler that is not suspended has no base, and the script returns no more
    const [head, rec, base = null, ...replies] = (await this.redis.mnsimHandlerState(
      String(keys.length),
      ...keys,
      handlerId,
      component ?? '',
    )) as [string | null, string | null, string | null, ...Array<string | null>];
    return {
      continuation: head === null ? null : joinContinuation(runId, handlerId, head, base, replies),
      component: rec === null ? null : (JSON.parse(rec) as ComponentRecord),
    };
  }

  /**
   * Writes the continuation, the component's new state when the handler returned, the events
   * the handler emitted (staged for the auditor) and the context parts its outbox refers to, at
   * once, if the stored versions are still `expected` (those the caller computed from).
   * @throws RunStateGoneError when the run is not live
   * @throws StaleStateError when a version is not the expected one (nothing written)
   */
  async saveHandler(
    runId: string,
    handlerId: string,
    cont: Continuation,
    component: { name: string; record: ComponentRecord } | null,
    events: readonly WireEvent[],
    expected: SaveVersions = { handler: '', component: null },
    contextParts: readonly PartEntry[] = [],
  ): Promise<void> {
    const name = component?.name ?? expected.component?.name ?? '';
    const parts = splitContinuation(cont, expected.handler);
    const args = [
      handlerId,
      expected.handler,
      JSON.stringify(parts.head),
      cont.lastMsg,
      name,
      // '=' marks a check, so that '' (the initial state) can be expected
      expected.component ? `=${expected.component.applied}` : '',
      component ? JSON.stringify(component.record) : '',
      component ? component.record.applied : '',
      parts.base === null ? '' : JSON.stringify(parts.base),
      parts.reply === null ? '' : String(parts.reply.index),
      parts.reply === null ? '' : JSON.stringify(parts.reply.reply),
      parts.dropKept === null ? '' : String(parts.dropKept),
      String(contextParts.length),
    ];
    for (const [id, json] of contextParts) args.push(id, json);
    for (const e of events) args.push(String(e.seq), JSON.stringify(e));
    const keys = ['scenario', 'h', 'hv', 'c', 'cv', 'ev', 'hb', 'hr', 'parts'];
    const ok = await this.redis.mnsimSaveHandler(
      String(keys.length),
      ...keys.map((part) => this.runKey(runId, part)),
      ...args,
    );
    if (ok === 0) throw new RunStateGoneError(runId);
    if (ok === 2) throw new StaleStateError(runId, handlerId);
  }

  async orchestrator(runId: string): Promise<OrchestratorRecord | null> {
    const raw = await this.redis.get(this.runKey(runId, 'orch'));
    return raw === null ? null : (JSON.parse(raw) as OrchestratorRecord);
  }

  /**
   * The orchestrator's record, the events it emitted (staged for the auditor) and the context
   * parts its outbox refers to, if the run is live; with them, the deadline of the chain in flight (now + rec.timeoutMs) while the run is
   * running, or no deadline once it is not. A compare-and-set on the record's lastMsg (`expected`,
   * null for none): two messages of one run applied at once (a client's fail beside a chain's
   * done, both waiting for an orchestrator that restarts) must not both save, or the run would
   * end twice, completed and failed.
   * @throws RunStateGoneError when the run is not live
   * @throws StaleStateError when the stored record is not the one `expected` names (nothing written)
   */
  async saveOrchestrator(
    runId: string,
    rec: OrchestratorRecord,
    events: readonly WireEvent[],
    expected: string | null,
    contextParts: readonly PartEntry[] = [],
  ): Promise<void> {
    const inFlight = rec.status === 'running' && rec.current ? rec.current.id : '';
    const staged = events.flatMap((e) => [String(e.seq), JSON.stringify(e)]);
    const ok = await this.redis.mnsimSaveOrchestrator(
      '6',
      this.runKey(runId, 'scenario'),
      this.runKey(runId, 'orch'),
      this.chainDeadlinesKey(),
      this.chainStimulusKey(),
      this.runKey(runId, 'ev'),
      this.runKey(runId, 'parts'),
      JSON.stringify(rec),
      runId,
      inFlight,
      String(rec.timeoutMs),
      expected ?? '',
      String(contextParts.length),
      ...contextParts.flat(),
      ...staged,
    );
    if (ok === 0) throw new RunStateGoneError(runId);
    if (ok === 2) throw new StaleStateError(runId, 'orchestrator');
  }

  /**
   * The events staged for the auditor so far, in seq order, with what `unstage` needs to delete
   * exactly those (more may be staged meanwhile: they stay for the next read).
   */
  async stagedEvents(runId: string): Promise<{ events: WireEvent[]; fields: string[] }> {
    const raw = await this.redis.hgetall(this.runKey(runId, 'ev'));
    const fields = Object.keys(raw);
    const events = fields.map((f) => JSON.parse(raw[f]) as WireEvent);
    events.sort((a, b) => a.seq - b.seq);
    return { events, fields };
  }

  /**
   * The context parts of `ids` the run holds (null for one it does not), and whether the run is
   * live, in one transaction.
   */
  async contextParts(
    runId: string,
    ids: readonly string[],
  ): Promise<{ live: boolean; parts: Array<string | null> }> {
    const res = await this.redis
      .multi()
      .exists(this.runKey(runId, 'scenario'))
      .hmget(this.runKey(runId, 'parts'), ...ids)
      .exec();
    if (!res) throw new Error(`run ${runId}: the context parts transaction was aborted`);
    for (const [err] of res) if (err) throw err;
    return { live: res[0][1] === 1, parts: res[1][1] as Array<string | null> };
  }

  /** Deletes staged events once they are in the event store. */
  async unstage(runId: string, fields: readonly string[]): Promise<void> {
    if (fields.length > 0) await this.redis.hdel(this.runKey(runId, 'ev'), ...fields);
  }

  private chainDeadlinesKey(): string {
    return `${this.prefix}:chain-deadlines`;
  }

  private chainStimulusKey(): string {
    return `${this.prefix}:chain-stimulus`;
  }

  /**
   * Claims up to `limit` chains past their deadline (each again after `retryMs` unless its run
   * moves on or ends first); drops the deadlines of runs no longer live.
   */
  async claimExpiredChains(
    retryMs: number,
    limit: number,
  ): Promise<Array<{ runId: string; stimulusId: string }>> {
    const flat = (await this.redis.mnsimClaimExpiredChains(
      '2',
      this.chainDeadlinesKey(),
      this.chainStimulusKey(),
      `${this.prefix}:run:`,
      String(retryMs),
      String(limit),
    )) as string[];
    const out: Array<{ runId: string; stimulusId: string }> = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ runId: flat[i], stimulusId: flat[i + 1] });
    return out;
  }

  /** The outcome, whether the run is live, and the orchestrator's record, in one transaction. */
  async status(runId: string): Promise<RunLiveness> {
    const res = await this.redis
      .multi()
      .get(this.resultKey(runId))
      .exists(this.runKey(runId, 'scenario'))
      .get(this.runKey(runId, 'orch'))
      .exec();
    if (!res) throw new Error(`run ${runId}: the status transaction was aborted`);
    for (const [err] of res) if (err) throw err;
    const [result, live, orch] = res.map(([, v]) => v) as [string | null, number, string | null];
    return {
      outcome: result === null ? null : (JSON.parse(result) as RunOutcome),
      live: live === 1,
      orchestrator: orch === null ? null : (JSON.parse(orch) as OrchestratorRecord),
    };
  }

  async result(runId: string): Promise<RunOutcome | null> {
    const raw = await this.redis.get(this.resultKey(runId));
    return raw === null ? null : (JSON.parse(raw) as RunOutcome);
  }

  /** Records the outcome, drops the run's working state and announces it to waiting clients. */
  async close(outcome: RunOutcome): Promise<void> {
    const runId = outcome.runId;
    await this.redis
      .multi()
      .set(this.resultKey(runId), JSON.stringify(outcome), 'EX', RESULT_TTL_SECONDS)
      .del(
        this.runKey(runId, 'scenario'),
        this.runKey(runId, 'c'),
        this.runKey(runId, 'cv'),
        this.runKey(runId, 'h'),
        this.runKey(runId, 'hv'),
        this.runKey(runId, 'hb'),
        this.runKey(runId, 'hr'),
        this.runKey(runId, 'orch'),
        this.runKey(runId, 'ev'),
        this.runKey(runId, 'parts'),
      )
      .publish(runClosedChannel(this.prefix), runId)
      .exec();
    this.metaCache.delete(runId);
  }
}
