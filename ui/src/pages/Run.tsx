/**
 * One run: what it was (scenario, variant, arch, seed, status, logHash) and its findings, each
 * with its splat.
 */
import { api } from '../api';
import { LoadStatus, StatusBadge, when } from '../components/Status';
import { useLoad } from '../hooks';

export function RunPage({ runId }: { runId: string }) {
  const run = useLoad(() => api.run(runId), [runId]);
  const findings = useLoad(() => api.violations({ run: runId, limit: 1000 }), [runId]);
  return (
    <section>
      <p class="muted">
        <a href="/ui/runs">Runs</a> ›
      </p>
      <h1 class="mono">{runId}</h1>
      <LoadStatus loaded={run} what="the run" />
      {run.state === 'ready' && (
        <dl class="panel facts">
          <dt>Status</dt>
          <dd>
            <StatusBadge status={run.value.status} />{' '}
            {run.value.failureReason && <span class="error">{run.value.failureReason}</span>}
          </dd>
          <dt>Scenario</dt>
          <dd>{run.value.scenario}</dd>
          <dt>Kernel</dt>
          <dd>{run.value.kernel}</dd>
          <dt>Arch</dt>
          <dd>{run.value.arch}</dd>
          <dt>Seed</dt>
          <dd>{run.value.seed}</dd>
          <dt>Events</dt>
          <dd>{run.value.events}</dd>
          <dt>logHash</dt>
          <dd class="mono">{run.value.logHash ?? '—'}</dd>
          <dt>Started</dt>
          <dd class="mono">{when(run.value.createdAt)}</dd>
        </dl>
      )}
      <h2>Findings</h2>
      <LoadStatus loaded={findings} what="the findings" />
      {findings.state === 'ready' &&
        (findings.value.violations.length === 0 ? (
          <p class="muted">None.</p>
        ) : (
          findings.value.violations.map((v) => (
            <div key={v.seq} class="panel finding" data-seq={v.seq}>
              <p>
                <b>{v.signature}</b>{' '}
                <span class="muted">
                  (seq {v.seq}, jiffy {v.jiffies})
                </span>
              </p>
              <pre class="splat">{v.text}</pre>
            </div>
          ))
        ))}
    </section>
  );
}
