/**
 * The signatures, like a crash dashboard: each with its count (the observed share apart), runs,
 * first and last seen, and the kernel × arch matrix of where it occurs. The filters of
 * `mnsim violations` apply; a signature leads to its violations and runs.
 */
import { api, type SignatureCell, type SignatureGroup } from '../api';
import { Filters, HISTORY_FILTERS, historyQuery } from '../components/Filters';
import { LoadStatus, when } from '../components/Status';
import { useLoad, useQueryState } from '../hooks';

export function SignaturesPage() {
  const [query, setQuery] = useQueryState();
  const filter = historyQuery(query);
  const key = JSON.stringify(filter);
  const loaded = useLoad(
    () => Promise.all([api.signatures(filter), api.signatureMatrix(filter)]),
    [key],
  );
  return (
    <section>
      <h1>Signatures</h1>
      <Filters fields={HISTORY_FILTERS} query={query} onChange={setQuery} />
      <LoadStatus loaded={loaded} what="the signatures" />
      {loaded.state === 'ready' && (
        <SignatureTable
          groups={loaded.value[0].signatures}
          cells={loaded.value[1].cells}
          filter={filter}
        />
      )}
    </section>
  );
}

function SignatureTable({
  groups,
  cells,
  filter,
}: {
  groups: SignatureGroup[];
  cells: SignatureCell[];
  filter: Record<string, string>;
}) {
  if (groups.length === 0) return <p class="muted">No findings match.</p>;
  const kernels = [...new Set(cells.map((c) => c.kernel))].sort();
  const arches = [...new Set(cells.map((c) => c.arch))].sort();
  const bySignature = new Map<string, Map<string, number>>();
  for (const c of cells) {
    const m = bySignature.get(c.signature) ?? new Map<string, number>();
    m.set(`${c.kernel} ${c.arch}`, c.count);
    bySignature.set(c.signature, m);
  }
  return (
    <table class="grid signatures">
      <thead>
        <tr>
          <th>Signature</th>
          <th>Kind</th>
          <th class="num">Count</th>
          <th class="num">Observed</th>
          <th class="num">Runs</th>
          <th>First seen</th>
          <th>Last seen</th>
          <th>Kernel × arch</th>
        </tr>
      </thead>
      <tbody>
        {groups.map((g) => (
          <tr key={g.signature}>
            <td>
              <a href={signatureHref(g.signature, filter)}>{g.signature}</a>
            </td>
            <td>{g.kind}</td>
            <td class="num">{g.count}</td>
            <td class="num">{g.observed}</td>
            <td class="num">{g.runs}</td>
            <td class="mono">{when(g.firstSeen)}</td>
            <td class="mono">{when(g.lastSeen)}</td>
            <td>
              <Matrix
                kernels={kernels.filter((k) => g.kernels.includes(k))}
                arches={arches.filter((a) => g.arches.includes(a))}
                counts={bySignature.get(g.signature) ?? new Map()}
              />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function signatureHref(signature: string, filter: Record<string, string> = {}): string {
  const qs = new URLSearchParams(filter).toString();
  return `/ui/signatures/${encodeURIComponent(signature)}${qs ? `?${qs}` : ''}`;
}

/** Where a signature occurs: kernels down, arches across, the count in each cell. */
export function Matrix({
  kernels,
  arches,
  counts,
}: {
  kernels: string[];
  arches: string[];
  counts: Map<string, number>;
}) {
  return (
    <table class="matrix grid" aria-label="kernel × arch">
      <thead>
        <tr>
          <th />
          {arches.map((a) => (
            <th key={a}>{a}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {kernels.map((k) => (
          <tr key={k}>
            <th>{k}</th>
            {arches.map((a) => {
              const n = counts.get(`${k} ${a}`) ?? 0;
              return (
                <td key={a} class={n > 0 ? 'hit' : undefined}>
                  {n > 0 ? n : '·'}
                </td>
              );
            })}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
