/**
 * The dashboard's one door to the API: same origin, so the session cookie the sign-in form set
 * (or nothing, when the server has no token) goes with every request. A 401 means the session is
 * gone: the page reloads, and the server answers with its sign-in form.
 *
 * The shapes are the API's JSON contract (its OpenAPI document at /docs-json).
 */

import type { FindingKind, ViolationRecord } from '../../libs/kernel/src/kernel/sched/violation.js';

export type { FindingKind };
export type Origin = 'simulated' | 'observed';
export type RunStatus = 'running' | 'completed' | 'failed';

export interface RunSummary {
  runId: string;
  origin: Origin;
  scenario: string;
  kernel: string;
  arch: string;
  seed: number;
  status: RunStatus;
  events: number;
  logHash: string | null;
  violations: number;
  failureReason: string | null;
  createdAt: string;
  finishedAt: string | null;
}

export interface Run extends RunSummary {
  source: string | null;
}

/** A finding as the API prints it: the kernel's record, its kind always named, and its seq. */
export type Violation = Omit<ViolationRecord, 'kind'> & { seq: number; kind: FindingKind };

export interface ViolationRow extends Violation {
  runId: string;
  origin: Origin;
  scenario: string;
  kernel: string;
  arch: string;
  recordedAt: string;
}

export interface SignatureGroup {
  signature: string;
  kind: FindingKind;
  count: number;
  runs: number;
  observed: number;
  kernels: string[];
  arches: string[];
  firstSeen: string;
  lastSeen: string;
}

/** One cell of a signature's kernel × arch matrix. */
export interface SignatureCell {
  signature: string;
  kernel: string;
  arch: string;
  count: number;
  runs: number;
}

export interface Campaign {
  seed: number;
  runs: number;
  completed: number;
  failed: number;
  running: number;
  violations: number;
  firstRun: string;
  lastRun: string;
}

export interface RunEvent {
  seq: number;
  id: string;
  type: 'run.start' | 'step' | 'timer' | 'call' | 'return' | 'violation' | 'run.end';
  causationId: string | null;
  jiffies: number;
  payload: unknown;
  recordedAt: string;
}

/**
 * An event as the timeline takes it: a run's without its wall-clock time, which neither the run's
 * log nor a replay carries.
 */
export type TimelineEvent = Omit<RunEvent, 'recordedAt'>;

export interface ReplayReport {
  runId: string;
  kernel: string;
  matches: boolean;
  logHash: string;
  expectedLogHash: string;
  firstDivergence: { seq: number } | null;
  violations: Violation[];
  violationsDiff: { added: Violation[]; removed: Violation[] };
  /** with `events: true`: the re-executed run's events (its first ones) */
  events?: TimelineEvent[];
  eventsTruncated?: boolean;
}

/** A line of a run's kernel log, with the seq of the event that printed it. */
export interface KernelLogLine {
  seq: number;
  jiffies: number;
  level: number;
  text: string;
  /** as dmesg shows it: timestamped, escaped */
  line: string;
}

/** Filters of the history, as `mnsim violations` takes them. */
export interface HistoryFilter {
  kind?: FindingKind;
  origin?: Origin;
  arch?: string;
  kernel?: string;
  scenario?: string;
  comm?: string;
  since?: string;
  signature?: string;
  run?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type Query = Record<string, string | number | undefined | null>;

function url(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

/** The answer, once it says it succeeded. @throws ApiError with the API's reason otherwise */
async function request(path: string, accept: string, init?: RequestInit): Promise<Response> {
  const res = await fetch(path, {
    credentials: 'same-origin',
    ...init,
    headers: { Accept: accept, ...(init?.headers ?? {}) },
  });
  return checked(res);
}

/** The answer, or an ApiError for one that is not a success (a 401 reloads the page). */
async function checked(res: Response): Promise<Response> {
  if (res.status === 401) {
    // the session is gone: the page itself now answers with the sign-in form
    window.location.reload();
    throw new ApiError(401, 'signed out');
  }
  if (!res.ok) {
    const body = (await res.json().catch(() => null)) as { message?: string } | null;
    throw new ApiError(res.status, body?.message ?? `${res.status} ${res.statusText}`);
  }
  return res;
}

/**
 * The answer to the request for a run's log that index.html made as the page began to load, when
 * it is this run's: taken once (a second reading asks again).
 */
function earlyLog(runId: string): Promise<Response> | undefined {
  const w = window as { __mnsimEarlyLog?: { runId: string; answer: Promise<Response> } };
  const early = w.__mnsimEarlyLog;
  if (early === undefined || early.runId !== runId) return undefined;
  delete w.__mnsimEarlyLog;
  return early.answer;
}

async function call<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await request(path, 'application/json', init);
  return (await res.json().catch(() => null)) as T;
}

export const api = {
  runs: (q: Query) => call<{ runs: RunSummary[]; nextCursor: string | null }>(url('/runs', q)),
  run: (runId: string) => call<Run>(`/runs/${encodeURIComponent(runId)}`),
  events: (runId: string, afterSeq: number | undefined, limit = 1000) =>
    call<{ runId: string; events: RunEvent[]; nextAfterSeq: number | null }>(
      url(`/runs/${encodeURIComponent(runId)}/events`, { afterSeq, limit }),
    ),
  violations: (q: Query) =>
    call<{ violations: ViolationRow[]; nextCursor: string | null }>(url('/violations', q)),
  signatures: (q: Query) => call<{ signatures: SignatureGroup[] }>(url('/signatures', q)),
  campaigns: () => call<{ campaigns: Campaign[] }>('/campaigns'),
  signatureMatrix: (q: Query) => call<{ cells: SignatureCell[] }>(url('/signatures/matrix', q)),
  /**
   * A completed run's log as `mnsim export` writes it (JSON Lines: a header, then format 2), its
   * body to be read as it arrives; 409 for a run that has none (running, failed)
   */
  log: (runId: string, signal?: AbortSignal) =>
    earlyLog(runId)?.then(checked) ??
    request(`/runs/${encodeURIComponent(runId)}/log`, 'application/x-ndjson', { signal }),
  kernelLog: (runId: string) =>
    call<{ runId: string; hz: number; lines: KernelLogLine[] }>(
      `/runs/${encodeURIComponent(runId)}/kernel-log`,
    ),
  replay: (runId: string, body: { kernel?: string; arch?: string; events?: boolean }) =>
    call<ReplayReport>(`/runs/${encodeURIComponent(runId)}/replay`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    }),
};

/** Every event of a run, in seq order, read page by page. */
export async function allEvents(
  runId: string,
  onProgress?: (read: number) => void,
): Promise<RunEvent[]> {
  const out: RunEvent[] = [];
  let after: number | undefined;
  for (;;) {
    const page = await api.events(runId, after);
    out.push(...page.events);
    onProgress?.(out.length);
    if (page.nextAfterSeq === null) return out;
    after = page.nextAfterSeq;
  }
}
