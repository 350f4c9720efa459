/** The fuzz campaigns recorded in the history: their runs are named fuzz-<seed>-<index>. */
import { api } from '../api';
import { RunTable } from '../components/RunTable';
import { LoadStatus } from '../components/Status';
import { useLoad } from '../hooks';

export function CampaignsPage() {
  const runs = useLoad(() => api.runs({ limit: 100 }), []);
  const fuzz =
    runs.state === 'ready' ? runs.value.runs.filter((r) => r.scenario.startsWith('fuzz-')) : [];
  return (
    <section>
      <h1>Campaigns</h1>
      <LoadStatus loaded={runs} what="the campaigns" />
      {runs.state === 'ready' && <RunTable runs={fuzz} />}
    </section>
  );
}
