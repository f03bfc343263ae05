/**
 * The pipeline page: the DAG (laid out by dagre, a kept graph-layout library), each step with its kind, join, what
 * starts it (seeds, schedules) and its live task counts for the selected run or all runs; the same facts as a table;
 * and a form that starts a run of a step with a payload.
 */
import { graphlib, layout } from '@dagrejs/dagre';
import { useMemo, useState } from 'preact/hooks';
import type { PipelineResponse, PipelineStepView, RunsResponse, StartRunResponse } from '../api-types';
import { Counts, ErrorMessage, KIND_LABELS, PHASES, Section, Table, href } from './common';
import { sendJson, useResource } from './data';

const NODE_WIDTH = 230;
const LINE = 17;

/** The text lines of a step's node (their count sets its height). */
function nodeLines(s: PipelineStepView): Array<{ text: string; cls: string }> {
  const lines = [{ text: s.name, cls: 'node-name' }];
  const kind = KIND_LABELS[s.kind] ?? s.kind;
  // The join matters only where messages meet: a step with two or more parents.
  lines.push({ text: s.join && s.parents.length >= 2 ? `${kind} · join: ${s.join}` : kind, cls: 'node-kind' });
  const starts = [
    ...(s.seeds.length ? [`${s.seeds.length} seed${s.seeds.length === 1 ? '' : 's'}`] : []),
    ...s.schedules.map((n) => `schedule ${n}`),
  ];
  if (starts.length) lines.push({ text: `started by ${starts.join(', ')}`, cls: 'node-starts' });
  const shown = PHASES.filter((p) => s.counts[p] > 0);
  if (shown.length === 0) lines.push({ text: 'no tasks', cls: 'node-count muted' });
  for (let i = 0; i < shown.length; i += 2)
    lines.push({
      text: shown
        .slice(i, i + 2)
        .map((p) => `${s.counts[p]} ${p}`)
        .join(' · '),
      cls: `node-count count-text-${shown[i]}`,
    });
  return lines;
}

function Dag({ pipeline, run }: { readonly pipeline: PipelineResponse; readonly run?: string }) {
  const graph = useMemo(() => {
    const g = new graphlib.Graph();
    g.setGraph({ rankdir: 'LR', nodesep: 24, ranksep: 56, marginx: 8, marginy: 8 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const s of pipeline.steps)
      g.setNode(s.name, { width: NODE_WIDTH, height: 14 + nodeLines(s).length * LINE, step: s });
    for (const s of pipeline.steps) for (const n of s.next) g.setEdge(s.name, n);
    layout(g);
    return g;
  }, [pipeline]);
  const label = graph.graph();
  const width = Math.ceil(label.width ?? 0);
  const height = Math.ceil(label.height ?? 0);
  return (
    <svg
      class="dag"
      viewBox={`0 0 ${width} ${height}`}
      width={width}
      role="img"
      aria-label={`Pipeline graph: ${pipeline.steps.map((s) => `${s.name}${s.next.length ? ` to ${s.next.join(' and ')}` : ''}`).join('; ')}`}
    >
      <defs>
        <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto">
          <path d="M0,0 L10,5 L0,10 z" class="arrowhead" />
        </marker>
      </defs>
      {graph.edges().map((e) => {
        const points = graph.edge(e).points ?? [];
        const d = points.map((p: { x: number; y: number }, i: number) => `${i ? 'L' : 'M'}${p.x},${p.y}`).join(' ');
        return <path key={`${e.v}-${e.w}`} d={d} class="edge" marker-end="url(#arrow)" />;
      })}
      {graph.nodes().map((name) => {
        const n = graph.node(name) as { x: number; y: number; width: number; height: number; step: PipelineStepView };
        const lines = nodeLines(n.step);
        const x = n.x - n.width / 2;
        const y = n.y - n.height / 2;
        return (
          <a
            key={name}
            href={href('queues', n.step.queue)}
            class="node"
            data-step={name}
            aria-label={`step ${name}: ${lines
              .slice(1)
              .map((l) => l.text)
              .join(', ')}${run ? ` in run ${run}` : ''}; open its queue`}
          >
            <rect x={x} y={y} width={n.width} height={n.height} rx="8" class={`node-box kind-${n.step.kind}`} />
            {lines.map((l, i) => (
              <text key={i} x={x + 12} y={y + 20 + i * LINE} class={l.cls}>
                {l.text}
              </text>
            ))}
          </a>
        );
      })}
    </svg>
  );
}

function StartRun({ pipeline, onStarted }: { readonly pipeline: PipelineResponse; readonly onStarted: () => void }) {
  const roots = pipeline.steps.filter((s) => s.parents.length === 0);
  const [step, setStep] = useState((roots[0] ?? pipeline.steps[0])?.name ?? '');
  const [payload, setPayload] = useState('{}');
  const [result, setResult] = useState<{ ok?: StartRunResponse; error?: string }>({});
  const submit = async (e: Event) => {
    e.preventDefault();
    let value: unknown;
    try {
      value = payload.trim() === '' ? null : JSON.parse(payload);
    } catch (err) {
      setResult({ error: `The payload is not JSON: ${(err as Error).message}` });
      return;
    }
    try {
      setResult({ ok: await sendJson<StartRunResponse>('POST', '/api/runs', { step, payload: value }) });
      onStarted();
    } catch (err) {
      setResult({ error: (err as Error).message });
    }
  };
  return (
    <form class="start-run" onSubmit={submit}>
      <label>
        Step
        <select value={step} onChange={(e) => setStep((e.target as HTMLSelectElement).value)}>
          {pipeline.steps.map((s) => (
            <option key={s.name} value={s.name}>
              {s.name}
            </option>
          ))}
        </select>
      </label>
      <label class="grow">
        Payload (JSON)
        <textarea
          rows={3}
          spellcheck={false}
          value={payload}
          onInput={(e) => setPayload((e.target as HTMLTextAreaElement).value)}
        />
      </label>
      <button type="submit">Start run</button>
      {result.ok && (
        <p class="ok" role="status">
          Started run <a href={href('runs', result.ok.runId)}>{result.ok.runId}</a>
        </p>
      )}
      <ErrorMessage error={result.error} />
    </form>
  );
}

export function PipelinePage() {
  const [run, setRun] = useState('');
  const pipeline = useResource<PipelineResponse>(
    `/api/pipeline${run ? `?run=${encodeURIComponent(run)}` : ''}`,
    (c) => c.pipeline,
  );
  const runs = useResource<RunsResponse>('/api/runs', (c) => c.allRuns || c.runs.length > 0);
  const p = pipeline.data;
  if (pipeline.error && !p) return <ErrorMessage error={pipeline.error} />;
  if (!p) return <p class="loading">Loading the pipeline…</p>;
  return (
    <>
      <Section
        title={`Pipeline ${p.stack}`}
        actions={
          <label class="inline">
            Counts for
            <select value={run} onChange={(e) => setRun((e.target as HTMLSelectElement).value)}>
              <option value="">all runs</option>
              {(runs.data?.runs ?? []).map((r) => (
                <option key={r.runId} value={r.runId}>
                  {r.runId} ({r.status})
                </option>
              ))}
            </select>
          </label>
        }
      >
        <div class="scroll" role="region" aria-label="Pipeline graph" tabIndex={0}>
          <Dag pipeline={p} run={run || undefined} />
        </div>
      </Section>
      <Section title="Steps">
        <Table label="Steps">
          <thead>
            <tr>
              <th scope="col">Step</th>
              <th scope="col">Kind</th>
              <th scope="col">Next</th>
              <th scope="col">Started by</th>
              <th scope="col">Tasks{run ? ` of ${run}` : ''}</th>
            </tr>
          </thead>
          <tbody>
            {p.steps.map((s) => (
              <tr key={s.name}>
                <th scope="row">
                  <a href={href('queues', s.queue)}>{s.name}</a>
                </th>
                <td>
                  {KIND_LABELS[s.kind] ?? s.kind}
                  {s.join && s.parents.length >= 2 ? ` (join: ${s.join})` : ''}
                </td>
                <td>{s.next.join(', ') || '–'}</td>
                <td>
                  {[...s.seeds.map((id) => `seed ${id}`), ...s.schedules.map((n) => `schedule ${n}`)].join(', ') || '–'}
                </td>
                <td>
                  <Counts counts={s.counts} />
                </td>
              </tr>
            ))}
          </tbody>
        </Table>
      </Section>
      <Section title="Start a run">
        <StartRun pipeline={p} onStarted={() => runs.reload()} />
      </Section>
    </>
  );
}
