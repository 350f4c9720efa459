/**
 * The dashboard's one door to the API: same origin, so the session cookie the sign-in form set
 * (or nothing, when the server has no token) goes with every request. A 401 means the session is
 * gone: the page reloads, and the server answers with its sign-in form.
 *
 * The shapes are the API's JSON contract (its OpenAPI document at /docs-json).
 */

import type { FindingKind, PrintkLine } from '@mnsim/kernel';
// the modules of libs/events with no Node import (its index has some): types only, erased
import type { Origin } from '../../libs/events/src/origin.js';
import type {
  CanonicalEvent,
  RunEvent as StoredEvent,
  RunStatus,
  Violation,
} from '../../libs/events/src/types.js';

export type { FindingKind, Origin, RunStatus, Violation };

/*
 * The rows of the history below restate libs/store's (RunSummaryRow, RunRow, ViolationRow,
 * SignatureGroup, CampaignRow, SignatureCell) and the replay's report restates libs/engine's:
 * neither can be imported here, even for its types. The store's types module imports
 * @mnsim/events, whose index holds Node code (node:crypto, Buffer, process), and the engine's
 * replay is Node code itself: the dashboard's type check, which has the DOM's types and not
 * Node's, would fail on them. libs/http's responses.ts describes the same JSON for the OpenAPI
 * document.
 */

/** A run as GET /runs lists it: libs/store's RunSummaryRow. */
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

/** A run as GET /runs/:id answers: libs/store's RunRow, with its scenario's source. */
export interface Run extends RunSummary {
  source: string | null;
}

/**
 * A finding of the history as GET /violations answers: libs/store's ViolationRow but its
 * eventId, which the API leaves out (libs/runs' violationRowJson).
 */
export interface ViolationRow extends Violation {
  runId: string;
  origin: Origin;
  scenario: string;
  kernel: string;
  arch: string;
  recordedAt: string;
}

/** libs/store's SignatureGroup. */
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

/** One cell of a signature's kernel × arch matrix: libs/store's SignatureCell. */
export interface SignatureCell {
  signature: string;
  kernel: string;
  arch: string;
  count: number;
  runs: number;
}

/** A fuzz campaign: libs/store's CampaignRow. */
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

/** An event as GET /runs/:id/events gives it: the store's, but its runId (the page's own). */
export type RunEvent = Omit<StoredEvent, 'runId'>;

/**
 * An event as the timeline takes it: as a run's log holds it (and a replay gives it), without
 * its runId and wall-clock time.
 */
export type TimelineEvent = CanonicalEvent;

/**
 * `mnsim replay --json` (libs/engine's ReplayReport), as POST /runs/:id/replay answers it: of
 * the first divergence only its seq is read here.
 */
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

/**
 * A line of a run's kernel log: the kernel's printk line with the seq of the event that printed
 * it (libs/engine's KernelLogLine), and the line as dmesg shows it: timestamped, escaped.
 */
export type KernelLogLine = PrintkLine & { seq: number; line: string };

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
