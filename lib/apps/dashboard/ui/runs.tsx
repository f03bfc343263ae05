/**
 * Runs: the list (id, source, status, started, duration, current step) and a run's page: its steps' progress,
 * shards, failures with reasons, outputs, its input (secrets redacted by the server), and the timeline of every task
 * attempt, coloured by outcome with the word beside it, retries separated by their backoff gaps.
 */
import type { BodyPreview, RunDetail, RunsResponse, TimelineTask } from '../api-types';
import { Badge, Counts, ErrorMessage, Section, Table, formatSeconds, formatTime, href } from './common';
import { useResource } from './data';

const sourceText = (s: RunDetail['source']) => (s.name ? `${s.kind} (${s.name})` : s.kind);

export function RunsPage() {
  const runs = useResource<RunsResponse>('/api/runs', (c) => c.allRuns || c.runs.length > 0);
  if (runs.error && !runs.data) return <ErrorMessage error={runs.error} />;
  if (!runs.data) return <p class="loading">Loading runs…</p>;
  return (
    <Section title={`Runs (${runs.data.runs.length})`}>
      <p class="muted">
        From {runs.data.source === 'ledger' ? 'the run ledger' : "the tasks' run ids (no run ledger)"}; newest first.
      </p>
      <Table label="Runs">
        <thead>
          <tr>
            <th scope="col">Run</th>
            <th scope="col">Source</th>
            <th scope="col">Status</th>
            <th scope="col">Started</th>
            <th scope="col">Duration</th>
            <th scope="col">Current step</th>
          </tr>
        </thead>
        <tbody>
          {runs.data.runs.map((r) => (
            <tr key={r.runId} data-run={r.runId}>
              <th scope="row">
                <a href={href('runs', r.runId)}>{r.runId}</a>
              </th>
              <td>{sourceText(r.source)}</td>
              <td>
                <Badge value={r.status} />
              </td>
              <td>{formatTime(r.createdAt)}</td>
              <td>{formatSeconds(r.durationSeconds)}</td>
              <td>{r.currentSteps.join(', ') || '–'}</td>
            </tr>
          ))}
          {runs.data.runs.length === 0 && (
            <tr>
              <td colSpan={6} class="muted">
                No runs yet: seed the pipeline, or start one from the Pipeline page.
              </td>
            </tr>
          )}
        </tbody>
      </Table>
    </Section>
  );
}

export function Preview({ body }: { readonly body: BodyPreview }) {
  if (body.kind === 'empty') return <p class="muted">empty</p>;
  if (body.hidden)
    return (
      <p class="muted">
        Hidden ({body.bytes} bytes): {body.hidden}.
      </p>
    );
  if (body.kind === 'binary') return <p class="muted">{body.bytes} bytes of binary data (not shown).</p>;
  return (
    <>
      <pre class="body">{body.text}</pre>
      <p class="muted">
        {body.bytes} bytes, {body.kind}
        {body.truncated ? '; cut at the preview limit' : ''}
        {body.redacted.length > 0
          ? `; ${body.redacted.length} secret(s) redacted: ${body.redacted.map((r) => `${r.path || '(the value)'} (${r.reason})`).join('; ')}`
          : ''}
      </p>
    </>
  );
}

const ROW = 26;
const LABEL = 190;

/** One row per task, one bar per attempt; dashed lines are the backoff the queue waited before the next attempt. */
function Timeline({ tasks, now }: { readonly tasks: readonly TimelineTask[]; readonly now: number }) {
  const times = tasks.flatMap((t) =>
    t.attempts.flatMap((a) => [Date.parse(a.dispatchedAt), a.endedAt ? Date.parse(a.endedAt) : now]),
  );
  if (times.length === 0) return <p class="muted">No attempt yet.</p>;
  const start = Math.min(...times, ...tasks.map((t) => Date.parse(t.createdAt)));
  const end = Math.max(...times, start + 1);
  const width = 900;
  const span = width - LABEL - 16;
  const x = (ms: number) => LABEL + ((ms - start) / (end - start)) * span;
  const height = tasks.length * ROW + 30;
  return (
    <div class="scroll" role="region" aria-label="Timeline" tabIndex={0}>
      <svg
        class="timeline"
        viewBox={`0 0 ${width} ${height}`}
        width={width}
        role="img"
        aria-label={`Timeline of ${tasks.length} task(s) over ${formatSeconds((end - start) / 1000)}; every attempt is listed in the table below`}
      >
        {tasks.map((t, row) => {
          const y = row * ROW + 4;
          return (
            <g key={t.task} class="timeline-row" data-task={t.taskId}>
              <text x={4} y={y + 15} class="timeline-label">
                {t.step} · {t.taskId.length > 18 ? `${t.taskId.slice(0, 8)}…${t.taskId.slice(-8)}` : t.taskId}
              </text>
              {t.attempts.map((a, i) => {
                const from = Date.parse(a.dispatchedAt);
                const to = a.endedAt ? Date.parse(a.endedAt) : now;
                const next = t.attempts[i + 1];
                return (
                  <g key={a.attempt}>
                    <rect
                      x={x(from)}
                      y={y + 3}
                      width={Math.max(3, x(to) - x(from))}
                      height={ROW - 10}
                      class={`bar bar-${a.outcome}`}
                    >
                      <title>
                        {`attempt ${a.attempt}: ${a.outcome}${a.status !== undefined ? ` (HTTP ${a.status})` : ''}${a.reason ? ` – ${a.reason}` : ''}, ${formatSeconds((to - from) / 1000)}`}
                      </title>
                    </rect>
                    {next && (
                      <line
                        x1={x(to)}
                        x2={x(Date.parse(next.dispatchedAt))}
                        y1={y + ROW / 2 - 1}
                        y2={y + ROW / 2 - 1}
                        class="backoff"
                      >
                        <title>{`backoff ${formatSeconds((Date.parse(next.dispatchedAt) - to) / 1000)}`}</title>
                      </line>
                    )}
                  </g>
                );
              })}
            </g>
          );
        })}
        <text x={LABEL} y={height - 6} class="axis">
          0 s
        </text>
        <text x={width - 16} y={height - 6} class="axis" text-anchor="end">
          {formatSeconds((end - start) / 1000)}
        </text>
      </svg>
    </div>
  );
}

function Legend() {
  return (
    <p class="legend">
      <span class="count count-succeeded">
        <span class="swatch" aria-hidden="true" />
        succeeded
      </span>
      <span class="count count-failed">
        <span class="swatch" aria-hidden="true" />
        failed
      </span>
      <span class="count count-running">
        <span class="swatch" aria-hidden="true" />
        in flight
      </span>
      <span class="count">
        <span class="dash" aria-hidden="true" />
        backoff before a retry
      </span>
    </p>
  );
}

export function RunPage({ runId }: { readonly runId: string }) {
  const run = useResource<RunDetail>(
    `/api/runs/${encodeURIComponent(runId)}`,
    (c) => c.allRuns || c.runs.includes(runId),
  );
  const r = run.data;
  if (run.error && !r) return <ErrorMessage error={run.error} />;
  if (!r) return <p class="loading">Loading run {runId}…</p>;
  const now = Date.now();
  const attempts = r.timeline.flatMap((t) => t.attempts.map((a) => ({ t, a })));
  const outputs = r.steps.flatMap((s) => s.outputs.map((o) => ({ step: s.step, ...o })));
  return (
    <>
      <Section title={`Run ${r.runId}`}>
        <dl class="facts">
          <dt>Status</dt>
          <dd>
            <Badge value={r.status} />
          </dd>
          <dt>Source</dt>
          <dd>{sourceText(r.source)}</dd>
          <dt>Started</dt>
          <dd>
            {formatTime(r.createdAt)} at {r.startStep}
          </dd>
          <dt>Duration</dt>
          <dd>{formatSeconds(r.durationSeconds)}</dd>
          <dt>Current step</dt>
          <dd>{r.currentSteps.join(', ') || '–'}</dd>
          <dt>From</dt>
          <dd>{r.runsSource === 'ledger' ? 'the run ledger' : "the tasks' run ids"}</dd>
        </dl>
        {r.failure && (
          <p class="error" role="alert">
            Failed at {r.failure.step}
            {r.failure.shard ? ` (shard ${r.failure.shard})` : ''}: {r.failure.reason}
          </p>
        )}
      </Section>
      <Section title="Steps">
        <Table label="Steps of the run">
          <thead>
            <tr>
              <th scope="col">Step</th>
              <th scope="col">State</th>
              <th scope="col">Expected</th>
              <th scope="col">Tasks</th>
              <th scope="col">Attempts</th>
              <th scope="col">Duration</th>
            </tr>
          </thead>
          <tbody>
            {r.steps.map((s) => (
              <tr key={s.step} data-step={s.step}>
                <th scope="row">{s.step}</th>
                <td>
                  <Badge value={s.state} />
                </td>
                <td>{s.expected ?? '–'}</td>
                <td>
                  <Counts counts={s.counts} />
                </td>
                <td>{s.attempts}</td>
                <td>{formatSeconds(s.durationSeconds)}</td>
              </tr>
            ))}
          </tbody>
        </Table>
        {r.steps
          .filter((s) => s.shards.length > 0)
          .map((s) => (
            <details key={s.step} class="shards">
              <summary>
                {s.step}: {s.shards.length} {r.runsSource === 'ledger' ? 'shard(s)' : 'task(s)'}
              </summary>
              <Table label={`Shards of ${s.step}`}>
                <thead>
                  <tr>
                    <th scope="col">{r.runsSource === 'ledger' ? 'Shard' : 'Task'}</th>
                    <th scope="col">State</th>
                    <th scope="col">Attempts</th>
                    <th scope="col">Duration</th>
                    <th scope="col">Error</th>
                  </tr>
                </thead>
                <tbody>
                  {s.shards.map((sh) => (
                    <tr key={sh.shard}>
                      <th scope="row">{sh.shard}</th>
                      <td>
                        <Badge value={sh.state} />
                      </td>
                      <td>{sh.attempts}</td>
                      <td>{formatSeconds(sh.durationSeconds)}</td>
                      <td>
                        {sh.error
                          ? `${sh.error.message} (attempt ${sh.error.attempt}${sh.error.final ? ', final' : ''})`
                          : '–'}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </Table>
            </details>
          ))}
      </Section>
      <Section title="Outputs">
        {outputs.length === 0 ? (
          <p class="muted">
            {r.runsSource === 'ledger'
              ? 'No outputs reported (ctx.output in the worker SDK).'
              : 'Outputs are reported by workers on the run ledger (worker SDK); these workers keep none.'}
          </p>
        ) : (
          <ul class="outputs">
            {outputs.map((o) => (
              <li key={`${o.step}/${o.shard}/${o.name}`}>
                {o.step} [{o.shard}] {o.name}: <code>{o.uri}</code>
              </li>
            ))}
          </ul>
        )}
      </Section>
      <Section title="Timeline">
        <Legend />
        <Timeline tasks={r.timeline} now={now} />
        <Table label="Attempts">
          <thead>
            <tr>
              <th scope="col">Task</th>
              <th scope="col">Step</th>
              <th scope="col">Attempt</th>
              <th scope="col">Dispatched</th>
              <th scope="col">Took</th>
              <th scope="col">Outcome</th>
              <th scope="col">Next attempt</th>
            </tr>
          </thead>
          <tbody>
            {attempts.map(({ t, a }) => (
              <tr key={`${t.task}#${a.attempt}`} data-outcome={a.outcome}>
                <th scope="row">
                  <a href={href('tasks', t.task)}>{t.taskId}</a>
                </th>
                <td>{t.step}</td>
                <td>{a.attempt}</td>
                <td>{formatTime(a.dispatchedAt)}</td>
                <td>{a.latencyMs !== undefined ? formatSeconds(a.latencyMs / 1000) : '–'}</td>
                <td>
                  <Badge value={a.outcome} />
                  {a.status !== undefined ? ` HTTP ${a.status}` : ''}
                  {a.reason ? ` ${a.reason}` : ''}
                </td>
                <td>
                  {a.nextAttemptAt
                    ? `${formatTime(a.nextAttemptAt)} (backoff ${formatSeconds((Date.parse(a.nextAttemptAt) - Date.parse(a.endedAt ?? a.dispatchedAt)) / 1000)})`
                    : '–'}
                </td>
              </tr>
            ))}
          </tbody>
        </Table>
      </Section>
      {r.input && (
        <Section title="Input">
          <Preview body={r.input} />
        </Section>
      )}
    </>
  );
}
