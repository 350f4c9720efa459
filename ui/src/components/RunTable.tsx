import type { RunSummary } from '../api';
import { StatusBadge, when } from './Status';

export function RunTable({ runs }: { runs: RunSummary[] }) {
  if (runs.length === 0) return <p class="muted">No runs match.</p>;
  return (
    <table class="grid runs">
      <thead>
        <tr>
          <th>Run</th>
          <th>Status</th>
          <th>Scenario</th>
          <th>Kernel</th>
          <th>Arch</th>
          <th class="num">Events</th>
          <th class="num">Violations</th>
          <th>logHash</th>
          <th>Started</th>
        </tr>
      </thead>
      <tbody>
        {runs.map((r) => (
          <tr key={r.runId} data-run={r.runId}>
            <td class="mono">
              <a href={`/ui/runs/${encodeURIComponent(r.runId)}`}>{r.runId.slice(0, 8)}</a>
              {r.origin === 'observed' && <span class="badge observed">observed</span>}
            </td>
            <td>
              <StatusBadge status={r.status} />
              {r.failureReason && <div class="muted">{r.failureReason}</div>}
            </td>
            <td>{r.scenario}</td>
            <td>{r.kernel}</td>
            <td>{r.arch}</td>
            <td class="num">{r.events}</td>
            <td class="num">{r.violations}</td>
            <td class="mono" title={r.logHash ?? ''}>
              {r.logHash ? r.logHash.slice(0, 19) : '—'}
            </td>
            <td class="mono">{when(r.createdAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
