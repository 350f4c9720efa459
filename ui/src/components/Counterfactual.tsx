/**
 * "Would the fix have caught it": the run replayed against another variant and/or arch, and the
 * violation diff side by side, the findings the other kernel no longer has (removed) and those
 * it has and the run did not (added), each with its splat.
 */
import { useEffect, useState } from 'preact/hooks';
import type { ReplayReport, Violation } from '../api';
import { ARCHES, KERNEL_VARIANTS } from '../labels';

export type ReplayState =
  | { state: 'idle' }
  | { state: 'loading'; kernel: string; arch: string }
  | { state: 'error'; kernel: string; arch: string; message: string }
  | { state: 'ready'; kernel: string; arch: string; report: ReplayReport };

/** The variant to offer first: the fix, unless the run already has it. */
export function suggestedVariant(kernel: string): string {
  return kernel.startsWith('5.8+fix') ? '5.8' : '5.8+fix';
}

export function Counterfactual({
  run,
  state,
  onReplay,
  onShowRecorded,
  onShowReplayed,
}: {
  run: { kernel: string; arch: string };
  state: ReplayState;
  onReplay: (kernel: string, arch: string) => void;
  onShowRecorded: (seq: number) => void;
  onShowReplayed: (seq: number) => void;
}) {
  const chosen = state.state === 'idle' ? null : state;
  const [kernel, setKernel] = useState(chosen?.kernel ?? suggestedVariant(run.kernel));
  const [arch, setArch] = useState(chosen?.arch ?? run.arch);
  // a replay asked for elsewhere (the URL): the form shows it
  useEffect(() => {
    if (chosen === null) return;
    setKernel(chosen.kernel);
    setArch(chosen.arch);
  }, [chosen?.kernel, chosen?.arch]);
  const onSubmit = (e: Event) => {
    e.preventDefault();
    onReplay(kernel, arch);
  };
  return (
    <div data-testid="counterfactual" data-state={state.state}>
      <form class="filters" onSubmit={onSubmit} aria-label="replay against">
        <label>
          kernel variant
          <select
            name="kernel"
            value={kernel}
            onChange={(e) => setKernel(e.currentTarget.value)}
            data-testid="counterfactual-kernel"
          >
            {KERNEL_VARIANTS.map((k) => (
              <option key={k} value={k}>
                {k}
                {k === run.kernel ? ' (the run’s)' : ''}
              </option>
            ))}
          </select>
        </label>
        <label>
          arch
          <select
            name="arch"
            value={arch}
            onChange={(e) => setArch(e.currentTarget.value)}
            data-testid="counterfactual-arch"
          >
            {ARCHES.map((a) => (
              <option key={a} value={a}>
                {a}
                {a === run.arch ? ' (the run’s)' : ''}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" disabled={state.state === 'loading'}>
          Replay
        </button>
      </form>
      {state.state === 'loading' && (
        <p class="muted">
          Replaying on {state.kernel} / {state.arch}…
        </p>
      )}
      {state.state === 'error' && (
        <p class="error" role="alert">
          Could not replay on {state.kernel} / {state.arch}: {state.message}
        </p>
      )}
      {state.state === 'ready' && (
        <ReplayResult
          run={run}
          kernel={state.kernel}
          arch={state.arch}
          report={state.report}
          onShowRecorded={onShowRecorded}
          onShowReplayed={onShowReplayed}
        />
      )}
    </div>
  );
}

function ReplayResult({
  run,
  kernel,
  arch,
  report,
  onShowRecorded,
  onShowReplayed,
}: {
  run: { kernel: string; arch: string };
  kernel: string;
  arch: string;
  report: ReplayReport;
  onShowRecorded: (seq: number) => void;
  onShowReplayed: (seq: number) => void;
}) {
  const { added, removed } = report.violationsDiff;
  const kept = report.violations.length - added.length;
  return (
    <>
      <dl class="panel facts cf-summary" data-testid="counterfactual-summary">
        <dt>Replayed on</dt>
        <dd>
          <b>{kernel}</b> / <b>{arch}</b>{' '}
          <span class="muted">
            (recorded on {run.kernel} / {run.arch})
          </span>
        </dd>
        <dt>Log</dt>
        <dd data-field="matches" data-matches={String(report.matches)}>
          {report.matches ? (
            <span class="badge completed">matches</span>
          ) : (
            <span class="badge failed">differs</span>
          )}
          {report.firstDivergence && (
            <span class="muted"> from seq {report.firstDivergence.seq} on</span>
          )}
        </dd>
        <dt>logHash</dt>
        <dd class="mono" data-field="logHash">
          {report.logHash}
        </dd>
        <dt>recorded</dt>
        <dd class="mono">{report.expectedLogHash}</dd>
        <dt>Findings</dt>
        <dd>
          {removed.length} removed, {added.length} added, {kept} in both
        </dd>
      </dl>
      <div class="cf-diff">
        <FindingColumn
          testid="removed"
          title={`Removed (${removed.length})`}
          note={`found on ${run.kernel} / ${run.arch}, gone on ${kernel} / ${arch}`}
          findings={removed}
          onShow={onShowRecorded}
          where="in the run's timeline"
        />
        <FindingColumn
          testid="added"
          title={`Added (${added.length})`}
          note={`found on ${kernel} / ${arch} only`}
          findings={added}
          onShow={onShowReplayed}
          where="in the replay's timeline"
        />
      </div>
    </>
  );
}

function FindingColumn({
  testid,
  title,
  note,
  findings,
  onShow,
  where,
}: {
  testid: string;
  title: string;
  note: string;
  findings: Violation[];
  onShow: (seq: number) => void;
  where: string;
}) {
  return (
    <section data-testid={testid} data-count={findings.length} class={`cf-column ${testid}`}>
      <h3>{title}</h3>
      <p class="muted small">{note}</p>
      {findings.length === 0 ? (
        <p class="muted">None.</p>
      ) : (
        findings.map((v) => (
          <div key={v.seq} class="panel finding" data-seq={v.seq}>
            <p>
              <b>{v.signature}</b>
            </p>
            <p class="muted small">
              seq {v.seq}, jiffy {v.jiffies}, {v.comm}[{v.pid}], <span class="mono">{v.site}</span>
              {v.reported ? '' : ', not printed (rate limit)'}{' '}
              <button type="button" class="link" onClick={() => onShow(v.seq)}>
                show {where}
              </button>
            </p>
            <pre class="splat">{v.text}</pre>
          </div>
        ))
      )}
    </section>
  );
}
