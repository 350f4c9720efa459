/**
 * The fuzz campaigns recorded in the history (`mnsim fuzz`): each seed's runs and their outcome,
 * and for one campaign its findings counted by signature × variant × arch, and its runs.
 */
import { api, type SignatureCell } from '../api';
import { Pager, usePager } from '../components/Pager';
import { RunTable } from '../components/RunTable';
import { LoadStatus, when } from '../components/Status';
import { useLoad } from '../hooks';
import { signatureHref } from './Signatures';

export function CampaignsPage() {
  const loaded = useLoad(() => api.campaigns(), []);
  return (
    <section>
      <h1>Campaigns</h1>
      <p class="muted">
        The runs of <code>mnsim fuzz --seed S</code> are the scenarios fuzz-S-0, fuzz-S-1, …
      </p>
      <LoadStatus loaded={loaded} what="the campaigns" />
      {loaded.state === 'ready' &&
        (loaded.value.campaigns.length === 0 ? (
          <p class="muted">No campaign recorded yet.</p>
        ) : (
          <table class="grid campaigns">
            <thead>
              <tr>
                <th>Seed</th>
                <th class="num">Runs</th>
                <th class="num">Completed</th>
                <th class="num">Failed</th>
                <th class="num">In flight</th>
                <th class="num">Findings</th>
                <th>First run</th>
                <th>Last run</th>
              </tr>
            </thead>
            <tbody>
              {loaded.value.campaigns.map((c) => (
                <tr key={c.seed}>
                  <td>
                    <a href={`/ui/campaigns/${c.seed}`}>seed {c.seed}</a>
                  </td>
                  <td class="num">{c.runs}</td>
                  <td class="num">{c.completed}</td>
                  <td class="num">{c.failed}</td>
                  <td class="num">{c.running}</td>
                  <td class="num">{c.violations}</td>
                  <td class="mono">{when(c.firstRun)}</td>
                  <td class="mono">{when(c.lastRun)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ))}
    </section>
  );
}

export function CampaignPage({ seed }: { seed: string }) {
  const pager = usePager(seed);
  const summary = useLoad(
    () => Promise.all([api.campaigns(), api.signatureMatrix({ campaign: seed })]),
    [seed],
  );
  const runs = useLoad(
    () => api.runs({ campaign: seed, limit: 50, cursor: pager.cursor }),
    [seed, pager.cursor],
  );
  const campaign =
    summary.state === 'ready'
      ? summary.value[0].campaigns.find((c) => String(c.seed) === seed)
      : undefined;
  return (
    <section>
      <p class="muted">
        <a href="/ui/campaigns">Campaigns</a> ›
      </p>
      <h1>Campaign seed {seed}</h1>
      <LoadStatus loaded={summary} what="the campaign" />
      {summary.state === 'ready' && (
        <>
          {campaign ? (
            <p class="panel">
              {campaign.runs} runs: {campaign.completed} completed, {campaign.failed} failed,{' '}
              {campaign.running} in flight; {campaign.violations} findings. From{' '}
              {when(campaign.firstRun)} to {when(campaign.lastRun)}.
            </p>
          ) : (
            <p class="muted">No run of this seed is recorded.</p>
          )}
          <h2>Findings by signature × variant × arch</h2>
          <CellTable cells={summary.value[1].cells} />
        </>
      )}
      <h2>Runs</h2>
      {runs.state === 'ready' ? (
        <>
          <RunTable runs={runs.value.runs} />
          <Pager
            page={pager.page}
            nextCursor={runs.value.nextCursor}
            onNext={pager.next}
            onPrevious={pager.previous}
          />
        </>
      ) : (
        <LoadStatus loaded={runs} what="the runs" />
      )}
    </section>
  );
}

function CellTable({ cells }: { cells: SignatureCell[] }) {
  if (cells.length === 0) return <p class="muted">No findings.</p>;
  return (
    <table class="grid cells">
      <thead>
        <tr>
          <th>Signature</th>
          <th>Variant</th>
          <th>Arch</th>
          <th class="num">Findings</th>
          <th class="num">Runs</th>
        </tr>
      </thead>
      <tbody>
        {cells.map((c) => (
          <tr key={`${c.signature} ${c.kernel} ${c.arch}`}>
            <td>
              <a href={signatureHref(c.signature)}>{c.signature}</a>
            </td>
            <td>{c.kernel}</td>
            <td>{c.arch}</td>
            <td class="num">{c.count}</td>
            <td class="num">{c.runs}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
