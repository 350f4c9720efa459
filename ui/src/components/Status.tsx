import type { Loaded } from '../hooks';

/** What a page shows while its data loads, or when it could not. */
export function LoadStatus<T>({ loaded, what }: { loaded: Loaded<T>; what: string }) {
  if (loaded.state === 'loading') return <p class="muted">Loading {what}…</p>;
  if (loaded.state === 'error') {
    return (
      <p class="error" role="alert">
        Could not load {what}: {loaded.message}
      </p>
    );
  }
  return null;
}

export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge ${status}`}>{status}</span>;
}

/** An ISO time as `YYYY-MM-DD HH:MM:SS` UTC. */
export function when(iso: string | null): string {
  return iso === null ? '—' : iso.replace('T', ' ').slice(0, 19);
}
