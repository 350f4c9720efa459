import { ARCHES, FINDING_KINDS, KERNEL_VARIANTS, ORIGINS } from '../labels';

/** The filters of `mnsim violations`, kept in the page's URL. */
export const HISTORY_FILTERS = ['kind', 'origin', 'arch', 'kernel', 'scenario', 'comm', 'since'];

const CHOICES: Record<string, readonly string[]> = {
  kind: FINDING_KINDS,
  origin: ORIGINS,
  arch: ARCHES,
  kernel: KERNEL_VARIANTS,
  status: ['running', 'completed', 'failed'],
};

const HINTS: Record<string, string> = {
  scenario: 'oom-reap-arm64',
  comm: 'oom_reaper',
  since: '7d, 12h, or a date',
};

/** The history filters of `query` that are set, as API query parameters. */
export function historyQuery(query: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of HISTORY_FILTERS) if (query[k]) out[k] = query[k];
  return out;
}

export function Filters({
  fields,
  query,
  onChange,
}: {
  fields: string[];
  query: Record<string, string>;
  onChange: (next: Record<string, string>) => void;
}) {
  const onSubmit = (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const next: Record<string, string> = {};
    for (const f of fields) {
      const v = form.get(f);
      next[f] = typeof v === 'string' ? v.trim() : '';
    }
    onChange(next);
  };
  return (
    <form class="filters" onSubmit={onSubmit} aria-label="filters">
      {fields.map((f) => (
        <label key={f}>
          {f}
          {CHOICES[f] ? (
            <select name={f} value={query[f] ?? ''}>
              <option value="">any</option>
              {CHOICES[f].map((c) => (
                <option key={c} value={c}>
                  {c}
                </option>
              ))}
            </select>
          ) : (
            <input name={f} value={query[f] ?? ''} placeholder={HINTS[f] ?? ''} />
          )}
        </label>
      ))}
      <button type="submit">Apply</button>
      <button type="button" onClick={() => onChange({})}>
        Clear
      </button>
    </form>
  );
}
