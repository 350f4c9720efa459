/**
 * One signature: where it occurs, its findings newest first (each with its splat, or the account
 * of a finding the kernel does not print), and the runs that have it.
 */
import { useState } from 'preact/hooks';
import { api, type ViolationRow } from '../api';
import { historyQuery } from '../components/Filters';
import { Pager, usePager } from '../components/Pager';
import { RunTable } from '../components/RunTable';
import { LoadStatus, when } from '../components/Status';
import { useLoad, useQueryState } from '../hooks';
import { Matrix } from './Signatures';

export function SignaturePage({ signature }: { signature: string }) {
  const [query] = useQueryState();
  const filter = { ...historyQuery(query), signature };
  const key = JSON.stringify(filter);
  const pager = usePager(key);
  const summary = useLoad(
    () =>
      Promise.all([
        api.signatures(filter),
        api.signatureMatrix(filter),
        api.runs({ signature, limit: 20 }),
      ]),
    [key],
  );
  const violations = useLoad(
    () => api.violations({ ...filter, limit: 50, cursor: pager.cursor }),
    [key, pager.cursor],
  );
  return (
    <section>
      <p class="muted">
        <a href="/ui/">Signatures</a> ›
      </p>
      <h1 class="mono">{signature}</h1>
      <LoadStatus loaded={summary} what="the signature" />
      {summary.state === 'ready' && (
        <div class="panel">
          {summary.value[0].signatures.map((g) => (
            <p key={g.signature}>
              {g.kind}: <b>{g.count}</b> finding{g.count === 1 ? '' : 's'} ({g.observed} observed in
              real logs) in {g.runs} run{g.runs === 1 ? '' : 's'}, first seen {when(g.firstSeen)},
              last seen {when(g.lastSeen)}
            </p>
          ))}
          <Matrix
            kernels={[...new Set(summary.value[1].cells.map((c) => c.kernel))].sort()}
            arches={[...new Set(summary.value[1].cells.map((c) => c.arch))].sort()}
            counts={new Map(summary.value[1].cells.map((c) => [`${c.kernel} ${c.arch}`, c.count]))}
          />
        </div>
      )}
      <h2>Findings</h2>
      {violations.state === 'ready' ? (
        <>
          <ViolationList rows={violations.value.violations} />
          <Pager
            page={pager.page}
            nextCursor={violations.value.nextCursor}
            onNext={pager.next}
            onPrevious={pager.previous}
          />
        </>
      ) : (
        <LoadStatus loaded={violations} what="the findings" />
      )}
      <h2>Runs with it</h2>
      {summary.state === 'ready' && <RunTable runs={summary.value[2].runs} />}
    </section>
  );
}

function ViolationList({ rows }: { rows: ViolationRow[] }) {
  const [open, setOpen] = useState<string | null>(null);
  if (rows.length === 0) return <p class="muted">No findings match.</p>;
  return (
    <table class="grid violations">
      <thead>
        <tr>
          <th>Recorded</th>
          <th>Run</th>
          <th>Scenario</th>
          <th>Kernel</th>
          <th>Arch</th>
          <th>Task</th>
          <th>Site</th>
          <th>Splat</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((v) => {
          const id = `${v.runId}/${v.seq}`;
          return (
            <>
              <tr key={id}>
                <td class="mono">{when(v.recordedAt)}</td>
                <td class="mono">
                  <a href={`/ui/runs/${encodeURIComponent(v.runId)}?seq=${v.seq}`}>
                    {v.runId.slice(0, 8)}
                  </a>
                  {v.origin === 'observed' && <span class="badge observed">observed</span>}
                </td>
                <td>{v.scenario}</td>
                <td>{v.kernel}</td>
                <td>{v.arch}</td>
                <td>
                  {v.comm}[{v.pid}]
                </td>
                <td class="mono">{v.site}</td>
                <td>
                  <button type="button" onClick={() => setOpen(open === id ? null : id)}>
                    {open === id ? 'Hide' : 'Show'}
                  </button>
                </td>
              </tr>
              {open === id && (
                <tr key={`${id}-splat`}>
                  <td colSpan={8}>
                    <pre class="splat">{v.text}</pre>
                  </td>
                </tr>
              )}
            </>
          );
        })}
      </tbody>
    </table>
  );
}
