/**
 * One run: what it was (scenario, variant, arch, seed, status, logHash); its timeline, with the
 * selected event's execution context and the kernel log beside it; "would the fix have caught
 * it" (the run replayed against another variant or arch, the violation diff, and the replay's
 * timeline under the run's, aligned by jiffy); and its findings, each with its splat.
 *
 * The URL keeps the selected event (?seq=N: a signature's page links to a finding that way) and
 * the replay asked for (?against=<variant>&arch=<arch>).
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { type KernelLogLine, type TimelineEvent, api } from '../api';
import { Counterfactual, type ReplayState } from '../components/Counterfactual';
import { KernelLog } from '../components/KernelLog';
import { LoadStatus, StatusBadge, when } from '../components/Status';
import { type Loaded, useLoad } from '../hooks';
import { ContextPanel } from '../timeline/ContextPanel';
import { loadRunEvents } from '../timeline/load';
import { type TimelineModel, buildAxis, buildTimeline } from '../timeline/model';
import { Timeline, TimelineLegend, TimelineToolbar } from '../timeline/Timeline';
import { TimelineView } from '../timeline/view';

const SEQ = /^\d{1,10}$/;

interface Models {
  run: TimelineModel;
  replay: TimelineModel | null;
}

export function RunPage({ runId }: { runId: string }) {
  const { path, query, route } = useLocation();
  const run = useLoad(() => api.run(runId), [runId]);
  const findings = useLoad(() => api.violations({ run: runId, limit: 1000 }), [runId]);
  const current = run.state === 'ready' ? run.value : null;

  // the events, asked for beside the run: a completed run's log needs nothing the run says (the
  // run is asked for again only when there is no log, to read the events' pages)
  const [events, setEvents] = useState<Loaded<TimelineEvent[]>>({ state: 'loading' });
  const [progress, setProgress] = useState(0);
  useEffect(() => {
    let live = true;
    const reading = new AbortController();
    setEvents({ state: 'loading' });
    setProgress(0);
    loadRunEvents(
      runId,
      () => api.run(runId),
      (n) => {
        if (live) setProgress(n);
      },
      reading.signal,
    ).then(
      (value) => {
        if (!live) return;
        performance.mark('mnsim:timeline:events');
        setEvents({ state: 'ready', value });
      },
      (err: unknown) =>
        live &&
        setEvents({ state: 'error', message: err instanceof Error ? err.message : String(err) }),
    );
    return () => {
      live = false;
      reading.abort();
    };
  }, [runId]);

  // the kernel log once the events are in: it is derived from them on the server, and would
  // otherwise compete with them there
  const eventsIn = events.state !== 'loading';
  const [klog, setKlog] = useState<Loaded<{ lines: KernelLogLine[] }>>({ state: 'loading' });
  useEffect(() => {
    if (!eventsIn) return;
    let live = true;
    api.kernelLog(runId).then(
      (value) => live && setKlog({ state: 'ready', value }),
      (err: unknown) =>
        live &&
        setKlog({ state: 'error', message: err instanceof Error ? err.message : String(err) }),
    );
    return () => {
      live = false;
    };
  }, [runId, eventsIn]);

  // the replay the URL asks for
  const against = query.against || null;
  const onArch = query.arch || null;
  const [replay, setReplay] = useState<ReplayState>({ state: 'idle' });
  useEffect(() => {
    if (current === null || (against === null && onArch === null)) {
      setReplay({ state: 'idle' });
      return;
    }
    const kernel = against ?? current.kernel;
    const arch = onArch ?? current.arch;
    let live = true;
    setReplay({ state: 'loading', kernel, arch });
    api.replay(current.runId, { kernel, arch, events: true }).then(
      (report) => live && setReplay({ state: 'ready', kernel, arch, report }),
      (err: unknown) =>
        live &&
        setReplay({
          state: 'error',
          kernel,
          arch,
          message: err instanceof Error ? err.message : String(err),
        }),
    );
    return () => {
      live = false;
    };
  }, [current?.runId, against, onArch]);
  const replayEvents = replay.state === 'ready' ? (replay.report.events ?? null) : null;

  // the geometry, once per set of events: the run's, and the replay's on the same axis
  const models = useMemo((): Loaded<Models> => {
    if (events.state !== 'ready') return events;
    try {
      const t0 = performance.now();
      const axis = buildAxis(replayEvents ? [events.value, replayEvents] : [events.value]);
      const out = {
        run: buildTimeline(events.value, axis),
        replay: replayEvents ? buildTimeline(replayEvents, axis) : null,
      };
      performance.measure('mnsim:timeline:model', { start: t0 });
      return { state: 'ready', value: out };
    } catch (err) {
      return { state: 'error', message: err instanceof Error ? err.message : String(err) };
    }
  }, [events, replayEvents]);
  const view = useMemo(() => new TimelineView(), [current?.runId]);

  // the selection: the run's in the URL, the replay's on the page
  const seq = SEQ.test(query.seq ?? '') ? Number(query.seq) : null;
  const [active, setActive] = useState<'run' | 'replay'>('run');
  const [replaySeq, setReplaySeq] = useState<number | null>(null);
  useEffect(() => {
    setReplaySeq(null);
    setActive('run');
  }, [replayEvents]);
  const withQuery = (changes: Record<string, string | null>): string => {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries({ ...query, ...changes })) if (v) params.set(k, v);
    const qs = params.toString();
    return qs ? `${path}?${qs}` : path;
  };
  const selectRun = (s: number) => {
    setActive('run');
    route(withQuery({ seq: String(s) }), true);
  };
  const selectReplay = (s: number) => {
    setActive('replay');
    setReplaySeq(s);
  };
  const violationSeqs = useMemo(
    () => new Set(findings.state === 'ready' ? findings.value.violations.map((v) => v.seq) : []),
    [findings],
  );

  const m = models.state === 'ready' ? models.value : null;
  const onReplay = active === 'replay' && m?.replay != null;
  return (
    <section>
      <p class="muted">
        <a href="/ui/runs">Runs</a> ›
      </p>
      <h1 class="mono">{current?.runId ?? runId}</h1>
      <LoadStatus loaded={run} what="the run" />
      {current !== null && (
        <dl class="panel facts">
          <dt>Status</dt>
          <dd>
            <StatusBadge status={current.status} />{' '}
            {current.failureReason && <span class="error">{current.failureReason}</span>}
          </dd>
          <dt>Scenario</dt>
          <dd>{current.scenario}</dd>
          <dt>Kernel</dt>
          <dd>{current.kernel}</dd>
          <dt>Arch</dt>
          <dd>{current.arch}</dd>
          <dt>Seed</dt>
          <dd>{current.seed}</dd>
          <dt>Events</dt>
          <dd>{current.events}</dd>
          <dt>logHash</dt>
          <dd class="mono">{current.logHash ?? '—'}</dd>
          <dt>Started</dt>
          <dd class="mono">{when(current.createdAt)}</dd>
        </dl>
      )}

      <h2>Timeline</h2>
      {current !== null && events.state === 'loading' && (
        <p class="muted">
          Loading the events… {progress} of {current.events}
        </p>
      )}
      {current !== null && <LoadStatus loaded={models} what="the events" />}
      {m !== null && m.run.events.length === 0 && (
        <p class="muted">
          No events:{' '}
          {current?.origin === 'observed'
            ? 'this run was observed in a real kernel log, not simulated'
            : 'the run has none yet'}
          .
        </p>
      )}
      {m !== null && m.run.events.length > 0 && (
        <div class="run-view">
          <div class="run-main">
            <TimelineToolbar view={view} marks={m.run.marks} selected={seq} onSelect={selectRun} />
            <Timeline
              name="run"
              model={m.run}
              view={view}
              selected={seq}
              onSelect={selectRun}
              caption={
                m.replay && current ? (
                  <>
                    Recorded on <b>{current.kernel}</b> / <b>{current.arch}</b>
                  </>
                ) : undefined
              }
            />
            {m.replay && replay.state === 'ready' && (
              <Timeline
                name="replay"
                model={m.replay}
                view={view}
                selected={replaySeq}
                onSelect={selectReplay}
                caption={
                  <>
                    Replayed on <b>{replay.kernel}</b> / <b>{replay.arch}</b>, aligned by jiffy
                    {replay.report.eventsTruncated && (
                      <span class="muted">
                        {' '}
                        (its first {m.replay.events.length.toLocaleString('en-US')} events)
                      </span>
                    )}{' '}
                    <a href={withQuery({ against: null, arch: null })}>close</a>
                  </>
                }
              />
            )}
            <TimelineLegend />
            <h2>Kernel log</h2>
            <LoadStatus loaded={klog} what="the kernel log" />
            {klog.state === 'ready' && (
              <KernelLog
                lines={klog.value.lines}
                selected={onReplay ? null : seq}
                violations={violationSeqs}
                onSelect={selectRun}
              />
            )}
          </div>
          <ContextPanel
            model={onReplay ? m.replay : m.run}
            seq={onReplay ? replaySeq : seq}
            which={
              onReplay && replay.state === 'ready'
                ? `the replay on ${replay.kernel} / ${replay.arch}`
                : 'the run'
            }
            onSelect={onReplay ? selectReplay : selectRun}
          />
        </div>
      )}

      <h2>Would the fix have caught it?</h2>
      {current !== null && (
        <Counterfactual
          run={current}
          state={replay}
          onReplay={(kernel, arch) =>
            route(withQuery({ against: kernel, arch: arch === current.arch ? null : arch }))
          }
          onShowRecorded={selectRun}
          onShowReplayed={selectReplay}
        />
      )}

      <h2>Findings</h2>
      <LoadStatus loaded={findings} what="the findings" />
      {findings.state === 'ready' &&
        (findings.value.violations.length === 0 ? (
          <p class="muted">None.</p>
        ) : (
          findings.value.violations.map((v) => (
            <div
              key={v.seq}
              class={`panel finding${v.seq === seq ? ' selected' : ''}`}
              data-seq={v.seq}
            >
              <p>
                <b>{v.signature}</b>{' '}
                <span class="muted">
                  (seq {v.seq}, jiffy {v.jiffies})
                </span>{' '}
                <button type="button" class="link" onClick={() => selectRun(v.seq)}>
                  show in the timeline
                </button>
              </p>
              <pre class="splat">{v.text}</pre>
            </div>
          ))
        ))}
    </section>
  );
}
