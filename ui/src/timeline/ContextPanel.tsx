/**
 * The selected event and the execution context it ran in: task, preempt_count, non_block, irqs,
 * held locks and the stack, innermost first. Each value carries `data-field` for the tests.
 */
import { type TimelineModel, contextOf, detailsOf } from './model';

/** How much of a JSON value the panel shows. */
const MAX_JSON = 4000;

function json(value: unknown): string {
  const text = JSON.stringify(value, null, 1) ?? 'undefined';
  return text.length > MAX_JSON ? `${text.slice(0, MAX_JSON)}\n…` : text;
}

export function ContextPanel({
  model,
  seq,
  which,
  onSelect,
}: {
  model: TimelineModel | null;
  seq: number | null;
  /** which timeline the event is on: "the run" or "the replay on …" */
  which: string;
  onSelect: (seq: number) => void;
}) {
  const index = model !== null && seq !== null ? model.indexOfSeq.get(seq) : undefined;
  if (model === null || index === undefined) {
    return (
      <aside class="panel context-panel" data-testid="context-panel">
        <h3>Context</h3>
        <p class="muted">
          Click an event in the timeline, a line of the kernel log or a finding: its execution
          context shows here.
        </p>
      </aside>
    );
  }
  const d = detailsOf(model, index);
  const ctx = contextOf(model, index);
  const v = d.violation;
  return (
    <aside class="panel context-panel" data-testid="context-panel" data-seq={d.seq}>
      <h3>
        {d.type}
        {d.fn && <span class="mono"> {d.fn}</span>}
      </h3>
      <p class="muted small">on {which}</p>
      <dl class="facts kv">
        <dt>event</dt>
        <dd data-field="type">{d.type}</dd>
        <dt>seq</dt>
        <dd data-field="seq">{d.seq}</dd>
        <dt>jiffies</dt>
        <dd data-field="jiffies">{d.jiffies}</dd>
        {d.fn !== null && (
          <>
            <dt>fn</dt>
            <dd class="mono" data-field="fn">
              {d.fn}
            </dd>
          </>
        )}
        {d.from !== null && (
          <>
            <dt>from → to</dt>
            <dd class="mono">
              <span data-field="from">{d.from}</span> → <span data-field="to">{d.to}</span>
            </dd>
          </>
        )}
        {d.pairSeq !== null && (
          <>
            <dt>{d.type === 'return' ? 'its call' : 'its return'}</dt>
            <dd>
              <button type="button" class="link" onClick={() => onSelect(d.pairSeq!)}>
                seq {d.pairSeq}
              </button>
            </dd>
          </>
        )}
        {v && (
          <>
            <dt>finding</dt>
            <dd data-field="signature">{v.signature}</dd>
            <dt>kind</dt>
            <dd data-field="kind">{v.kind ?? 'atomic-sleep'}</dd>
            <dt>site</dt>
            <dd class="mono" data-field="site">
              {v.site}
            </dd>
            <dt>printed</dt>
            <dd data-field="reported">
              {v.reported ? 'yes' : 'no (the once-per-HZ rate limit held it back)'}
            </dd>
          </>
        )}
      </dl>
      {d.args !== undefined && (
        <details open>
          <summary>args</summary>
          <pre class="json" data-field="args">
            {json(d.args)}
          </pre>
        </details>
      )}
      {d.type === 'return' && (
        <details open>
          <summary>ret</summary>
          <pre class="json" data-field="ret">
            {json(d.ret)}
          </pre>
        </details>
      )}
      <h4>Execution context</h4>
      {ctx === null ? (
        <p class="muted">None: {d.type} runs in no task.</p>
      ) : (
        <>
          <p class="muted small">From {ctx.source}.</p>
          <dl class="facts kv">
            <dt>task</dt>
            <dd data-field="task">
              <span data-field="comm">{ctx.task?.comm ?? '?'}</span> [pid{' '}
              <span data-field="pid">{ctx.task?.pid ?? '?'}</span>]
            </dd>
            <dt>preempt_count</dt>
            <dd>
              <span data-field="preemptCount">{ctx.preemptCount}</span>
              {v && <span class="muted"> (in_atomic())</span>}
            </dd>
            <dt>non_block</dt>
            <dd data-field="nonBlock">{ctx.nonBlock}</dd>
            <dt>irqs disabled</dt>
            <dd data-field="irqsDisabled">{ctx.irqsDisabled ? 1 : 0}</dd>
          </dl>
          <h5>
            Locks held {ctx.locksSource && <span class="muted small">({ctx.locksSource})</span>}
          </h5>
          {ctx.locks.length === 0 ? (
            <p class="muted" data-field="locks" data-count={0}>
              none
            </p>
          ) : (
            <ul class="plain mono locks" data-field="locks" data-count={ctx.locks.length}>
              {ctx.locks.map((l, i) => (
                <li key={i}>
                  {l.name} <span class="muted">at: {l.at}</span>
                </li>
              ))}
            </ul>
          )}
          <h5>
            Stack <span class="muted small">(innermost first)</span>
          </h5>
          <ol class="plain mono stack" data-field="stack" data-count={ctx.stack.length}>
            {ctx.stack.map((frame, i) => (
              <li key={i}>{frame}</li>
            ))}
          </ol>
        </>
      )}
    </aside>
  );
}
