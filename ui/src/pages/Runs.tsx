/**
 * The runs, newest first, with filters and keyset paging. While a run on the page is in flight
 * (on the cluster), the page reads it again every few seconds.
 */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { Filters } from '../components/Filters';
import { Pager, usePager } from '../components/Pager';
import { RunTable } from '../components/RunTable';
import { LoadStatus } from '../components/Status';
import { useLoad, useQueryState } from '../hooks';

const FIELDS = ['origin', 'scenario', 'kernel', 'arch', 'status'];
const LIVE_EVERY_MS = 2000;

export function RunsPage() {
  const [query, setQuery] = useQueryState();
  const filter: Record<string, string> = {};
  for (const f of FIELDS) if (query[f]) filter[f] = query[f];
  const key = JSON.stringify(filter);
  const pager = usePager(key);
  const [tick, setTick] = useState(0);
  const loaded = useLoad(
    () => api.runs({ ...filter, limit: 50, cursor: pager.cursor }),
    [key, pager.cursor, tick],
  );
  const inFlight =
    loaded.state === 'ready' && loaded.value.runs.some((r) => r.status === 'running');
  useEffect(() => {
    if (!inFlight) return;
    const t = setTimeout(() => setTick((n) => n + 1), LIVE_EVERY_MS);
    return () => clearTimeout(t);
  }, [inFlight, tick]);
  return (
    <section>
      <h1>Runs</h1>
      <Filters fields={FIELDS} query={query} onChange={setQuery} />
      {loaded.state === 'ready' ? (
        <>
          {inFlight && <p class="muted">Runs in flight: updating live.</p>}
          <RunTable runs={loaded.value.runs} />
          <Pager
            page={pager.page}
            nextCursor={loaded.value.nextCursor}
            onNext={pager.next}
            onPrevious={pager.previous}
          />
        </>
      ) : (
        <LoadStatus loaded={loaded} what="the runs" />
      )}
    </section>
  );
}
