/**
 * Queues (state, depth, in flight against maxConcurrentDispatches, dispatch rate against maxDispatchesPerSecond,
 * retry config, the queue-level target), a queue's tasks a page at a time (a queue of 10,000 tasks loads one page),
 * and a task's page (headers without Authorization, the body preview the server redacted, the dispatch history).
 * Actions call the dashboard API, which calls the Cloud Tasks API: the emulator's rules and errors apply.
 */
import { useState } from 'preact/hooks';
import type { QueueView, QueuesResponse, TaskDetail, TasksResponse } from '../api-types';
import { Badge, Counts, ErrorMessage, Section, Table, formatSeconds, formatTime, href, shortName } from './common';
import { resourceUrl, sendJson, useResource } from './data';
import { Preview } from './runs';

function retryText(r: QueueView['retry']): string {
  const attempts = r.maxAttempts === -1 ? 'unlimited attempts' : `${r.maxAttempts} attempts`;
  const duration = r.maxRetryDurationSeconds > 0 ? `, for at most ${formatSeconds(r.maxRetryDurationSeconds)}` : '';
  return `${attempts}, backoff ${formatSeconds(r.minBackoffSeconds)}..${formatSeconds(r.maxBackoffSeconds)}, ${r.maxDoublings} doublings${duration}`;
}

/** Runs an action and reports its outcome next to the buttons. */
function useAction(after: () => void): {
  run: (label: string, call: () => Promise<unknown>) => void;
  message?: { ok: boolean; text: string };
} {
  const [message, setMessage] = useState<{ ok: boolean; text: string }>();
  return {
    message,
    run: (label, call) => {
      call().then(
        () => {
          setMessage({ ok: true, text: `${label}: done` });
          after();
        },
        (err: Error) => setMessage({ ok: false, text: `${label}: ${err.message}` }),
      );
    },
  };
}

function QueueActions({ queue, after }: { readonly queue: QueueView; readonly after: () => void }) {
  const action = useAction(after);
  const url = resourceUrl(queue.name);
  return (
    <span class="actions">
      {queue.state === 'RUNNING' ? (
        <button
          type="button"
          onClick={() => action.run(`Pause ${queue.queueId}`, () => sendJson('POST', `${url}:pause`))}
        >
          Pause
        </button>
      ) : (
        <button
          type="button"
          onClick={() => action.run(`Resume ${queue.queueId}`, () => sendJson('POST', `${url}:resume`))}
        >
          Resume
        </button>
      )}
      <button
        type="button"
        class="danger"
        onClick={() => {
          if (window.confirm(`Purge every task in ${queue.queueId}? This cannot be undone.`))
            action.run(`Purge ${queue.queueId}`, () => sendJson('POST', `${url}:purge`));
        }}
      >
        Purge
      </button>
      {action.message && (
        <span class={action.message.ok ? 'ok' : 'error'} role="status">
          {action.message.text}
        </span>
      )}
    </span>
  );
}

function QueueRow({ q, after }: { readonly q: QueueView; readonly after: () => void }) {
  return (
    <tr data-queue={q.queueId}>
      <th scope="row">
        <a href={href('queues', q.name)}>{q.queueId}</a>
        {q.step ? <div class="muted">step {q.step}</div> : null}
      </th>
      <td>
        <Badge value={q.state.toLowerCase()} label={q.state} />
      </td>
      <td>{q.depth}</td>
      <td>
        {q.inFlight} / {q.maxConcurrentDispatches}
      </td>
      <td>
        {q.dispatchRate} / {q.maxDispatchesPerSecond} per s
      </td>
      <td>{retryText(q.retry)}</td>
      <td class="wrap">{q.target?.uri ?? '–'}</td>
      <td>
        <QueueActions queue={q} after={after} />
      </td>
    </tr>
  );
}

export function QueuesPage() {
  const queues = useResource<QueuesResponse>('/api/queues', (c) => c.queues.length > 0);
  if (queues.error && !queues.data) return <ErrorMessage error={queues.error} />;
  if (!queues.data) return <p class="loading">Loading queues…</p>;
  return (
    <Section title={`Queues (${queues.data.queues.length})`}>
      <Table label="Queues">
        <thead>
          <tr>
            <th scope="col">Queue</th>
            <th scope="col">State</th>
            <th scope="col">Depth</th>
            <th scope="col">In flight / max</th>
            <th scope="col">Dispatch rate / max</th>
            <th scope="col">Retry</th>
            <th scope="col">Target</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {queues.data.queues.map((q) => (
            <QueueRow key={q.name} q={q} after={queues.reload} />
          ))}
        </tbody>
      </Table>
    </Section>
  );
}

export function QueuePage({ name }: { readonly name: string }) {
  const queue = useResource<QueueView>(resourceUrl(name), (c) => c.queues.includes(name));
  // Page tokens of the pages before the current one: "Previous" pops one.
  const [tokens, setTokens] = useState<string[]>([]);
  const token = tokens.at(-1) ?? '';
  const tasks = useResource<TasksResponse>(
    `${resourceUrl(name)}/tasks?pageSize=50${token ? `&pageToken=${encodeURIComponent(token)}` : ''}`,
    (c) => c.queues.includes(name),
  );
  const reload = () => {
    queue.reload();
    tasks.reload();
  };
  const q = queue.data;
  if (queue.error && !q) return <ErrorMessage error={queue.error} />;
  if (!q) return <p class="loading">Loading {shortName(name)}…</p>;
  return (
    <>
      <Section title={`Queue ${q.queueId}`} actions={<QueueActions queue={q} after={reload} />}>
        <dl class="facts">
          <dt>Name</dt>
          <dd class="wrap">{q.name}</dd>
          <dt>State</dt>
          <dd>
            <Badge value={q.state.toLowerCase()} label={q.state} />
          </dd>
          <dt>Depth</dt>
          <dd>{q.depth} task(s)</dd>
          <dt>In flight</dt>
          <dd>
            {q.inFlight} of maxConcurrentDispatches {q.maxConcurrentDispatches}
          </dd>
          <dt>Dispatch rate</dt>
          <dd>
            {q.dispatchRate}/s of maxDispatchesPerSecond {q.maxDispatchesPerSecond} (burst {q.maxBurstSize})
          </dd>
          <dt>Retry</dt>
          <dd>{retryText(q.retry)}</dd>
          <dt>Target</dt>
          <dd class="wrap">
            {q.target
              ? `${q.target.method ?? 'the task’s method'} ${q.target.uri ?? 'the task’s URL'}${q.target.token ? `, ${q.target.token}` : ''}${q.target.headers.length ? `, headers ${q.target.headers.join('; ')}` : ''}`
              : 'none (each task’s own URL)'}
          </dd>
          <dt>History</dt>
          <dd>
            <Counts counts={q.counts} />
          </dd>
        </dl>
      </Section>
      <Section title={`Tasks (${tasks.data?.total ?? q.depth} in the queue)`}>
        <ErrorMessage error={tasks.error} />
        <Table label="Tasks">
          <thead>
            <tr>
              <th scope="col">Task</th>
              <th scope="col">State</th>
              <th scope="col">Run</th>
              <th scope="col">Schedule time</th>
              <th scope="col">Attempts</th>
              <th scope="col">Last response</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {(tasks.data?.tasks ?? []).map((t) => (
              <tr key={t.name} data-task={t.taskId}>
                <th scope="row" class="wrap">
                  <a href={href('tasks', t.name)}>{t.taskId}</a>
                </th>
                <td>
                  <Badge value={t.phase} />
                </td>
                <td>{t.runId ? <a href={href('runs', t.runId)}>{t.runId}</a> : '–'}</td>
                <td>{formatTime(t.scheduleTime)}</td>
                <td>{t.dispatchCount}</td>
                <td>{t.lastResponse ?? '–'}</td>
                <td>
                  <TaskActions name={t.name} after={reload} />
                </td>
              </tr>
            ))}
            {tasks.data?.tasks.length === 0 && (
              <tr>
                <td colSpan={7} class="muted">
                  The queue is empty.
                </td>
              </tr>
            )}
          </tbody>
        </Table>
        <div class="pager">
          <button type="button" disabled={tokens.length === 0} onClick={() => setTokens(tokens.slice(0, -1))}>
            Previous page
          </button>
          <button
            type="button"
            disabled={!tasks.data?.nextPageToken}
            onClick={() => tasks.data?.nextPageToken && setTokens([...tokens, tasks.data.nextPageToken])}
          >
            Next page
          </button>
        </div>
      </Section>
    </>
  );
}

function TaskActions({ name, after }: { readonly name: string; readonly after: () => void }) {
  const action = useAction(after);
  const id = shortName(name);
  return (
    <span class="actions">
      <button type="button" onClick={() => action.run(`Run ${id}`, () => sendJson('POST', `${resourceUrl(name)}:run`))}>
        Run now
      </button>
      <button
        type="button"
        class="danger"
        onClick={() => action.run(`Delete ${id}`, () => sendJson('DELETE', resourceUrl(name)))}
      >
        Delete
      </button>
      {action.message && (
        <span class={action.message.ok ? 'ok' : 'error'} role="status">
          {action.message.text}
        </span>
      )}
    </span>
  );
}

export function TaskPage({ name }: { readonly name: string }) {
  const queue = name.slice(0, name.indexOf('/tasks/'));
  const task = useResource<TaskDetail>(resourceUrl(name), (c) => c.queues.includes(queue));
  const t = task.data;
  if (task.error && !t) return <ErrorMessage error={task.error} />;
  if (!t) return <p class="loading">Loading {shortName(name)}…</p>;
  return (
    <>
      <Section title={`Task ${t.taskId}`} actions={t.live ? <TaskActions name={t.name} after={task.reload} /> : null}>
        <dl class="facts">
          <dt>State</dt>
          <dd>
            <Badge value={t.phase} />
            {t.live ? '' : ' (no longer in its queue)'}
          </dd>
          <dt>Queue</dt>
          <dd>
            <a href={href('queues', t.queue)}>{shortName(t.queue)}</a>
            {t.step ? ` (step ${t.step})` : ''}
          </dd>
          <dt>Run</dt>
          <dd>{t.runId ? <a href={href('runs', t.runId)}>{t.runId}</a> : '–'}</dd>
          <dt>Request</dt>
          <dd class="wrap">
            {t.httpMethod} {t.url}
          </dd>
          <dt>Token</dt>
          <dd>{t.token ?? 'none on the task (the queue’s target may add one)'}</dd>
          <dt>Schedule time</dt>
          <dd>{formatTime(t.scheduleTime)}</dd>
          <dt>Dispatch deadline</dt>
          <dd>{formatSeconds(t.dispatchDeadlineSeconds)}</dd>
          <dt>Attempts</dt>
          <dd>
            {t.dispatchCount} dispatched, {t.responseCount} answered
          </dd>
        </dl>
      </Section>
      <Section title="Headers">
        <Table label="Headers">
          <tbody>
            {Object.entries(t.headers).map(([k, v]) => (
              <tr key={k}>
                <th scope="row">{k}</th>
                <td class="wrap">{v}</td>
              </tr>
            ))}
            {Object.keys(t.headers).length === 0 && (
              <tr>
                <td class="muted">none</td>
              </tr>
            )}
          </tbody>
        </Table>
        <p class="muted">Authorization is never shown: Cloud Tasks mints a token for every attempt.</p>
      </Section>
      <Section title="Body">
        <Preview body={t.body} />
      </Section>
      <Section title="Dispatch history">
        <Table label="Dispatch history">
          <thead>
            <tr>
              <th scope="col">Attempt</th>
              <th scope="col">Dispatched</th>
              <th scope="col">Took</th>
              <th scope="col">Outcome</th>
              <th scope="col">Next attempt</th>
            </tr>
          </thead>
          <tbody>
            {t.attempts.map((a) => (
              <tr key={a.attempt} data-outcome={a.outcome}>
                <th scope="row">
                  {a.attempt}
                  {a.viaRunTask ? ' (run now)' : ''}
                </th>
                <td>{formatTime(a.dispatchedAt)}</td>
                <td>{a.latencyMs !== undefined ? formatSeconds(a.latencyMs / 1000) : '–'}</td>
                <td>
                  <Badge value={a.outcome} />
                  {a.status !== undefined ? ` HTTP ${a.status}` : ''}
                  {a.reason ? ` ${a.reason}` : ''}
                </td>
                <td>{a.nextAttemptAt ? formatTime(a.nextAttemptAt) : '–'}</td>
              </tr>
            ))}
            {t.attempts.length === 0 && (
              <tr>
                <td colSpan={5} class="muted">
                  Not dispatched yet.
                </td>
              </tr>
            )}
          </tbody>
        </Table>
      </Section>
    </>
  );
}
