import { useState } from 'preact/hooks';

/**
 * Keyset paging: the cursors of the pages seen, so Previous goes back the way it came and Next
 * takes the page's nextCursor.
 */
export function usePager(resetKey: string) {
  const [state, setState] = useState<{ key: string; cursors: (string | null)[] }>({
    key: resetKey,
    cursors: [null],
  });
  const cursors = state.key === resetKey ? state.cursors : [null];
  return {
    cursor: cursors[cursors.length - 1],
    page: cursors.length,
    next: (c: string) => setState({ key: resetKey, cursors: [...cursors, c] }),
    previous: () => setState({ key: resetKey, cursors: cursors.slice(0, -1) }),
  };
}

export function Pager({
  page,
  nextCursor,
  onNext,
  onPrevious,
}: {
  page: number;
  nextCursor: string | null;
  onNext: (c: string) => void;
  onPrevious: () => void;
}) {
  return (
    <div class="pager">
      <button type="button" disabled={page <= 1} onClick={onPrevious}>
        Previous
      </button>
      <span class="muted">page {page}</span>
      <button
        type="button"
        disabled={nextCursor === null}
        onClick={() => nextCursor && onNext(nextCursor)}
      >
        Next
      </button>
    </div>
  );
}
