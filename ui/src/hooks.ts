import { useEffect, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';

export type Loaded<T> =
  { state: 'loading' } | { state: 'error'; message: string } | { state: 'ready'; value: T };

/**
 * Loads `load()` again whenever one of `deps` changes; the answer of a stale load is dropped.
 * What was shown stays while the next answer comes (a live page does not blink).
 */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [result, setResult] = useState<Loaded<T>>({ state: 'loading' });
  useEffect(() => {
    let current = true;
    load().then(
      (value) => current && setResult({ state: 'ready', value }),
      (err: unknown) =>
        current &&
        setResult({ state: 'error', message: err instanceof Error ? err.message : String(err) }),
    );
    return () => {
      current = false;
    };
  }, deps);
  return result;
}

/** The page's query string as a record, and a way to change it (the URL keeps the filters). */
export function useQueryState(): [Record<string, string>, (next: Record<string, string>) => void] {
  const { query, path, route } = useLocation();
  const set = (next: Record<string, string>) => {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(next)) if (v !== '') params.set(k, v);
    const qs = params.toString();
    route(qs ? `${path}?${qs}` : path);
  };
  return [query, set];
}
