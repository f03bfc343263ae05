/**
 * Queues and tasks as the API returns them (api-types.ts): the emulator's state for what is in the queues now, the
 * activity (activity.ts) for what happened to them, every user string passed through as data and every secret
 * replaced (redact.ts, and the detector's redactUrl for URLs).
 */
import { redactUrl } from '../../core/secrets';
import type { Dispatcher } from '../../emulator/dispatch/dispatcher';
import type { Queue, QueueHttpTarget, Task } from '../../emulator/model';
import { attemptView, type TaskActivity, type TaskRecord } from './activity';
import type { QueueView, TaskDetail, TaskListItem, TaskPhase } from './api-types';
import { previewBody, safeHeaders } from './redact';

const iso = (ms: number) => new Date(Math.floor(ms)).toISOString();

export function queueView(
  queue: Queue,
  activity: TaskActivity,
  dispatcher: Dispatcher | undefined,
  step: string | undefined,
): QueueView {
  return {
    name: queue.name,
    queueId: queue.queueId,
    ...(step !== undefined ? { step } : {}),
    state: queue.state,
    depth: activity.depthOf(queue.name),
    inFlight: dispatcher?.inFlightOf(queue.name) ?? 0,
    maxConcurrentDispatches: queue.rateLimits.maxConcurrentDispatches,
    dispatchRate: activity.dispatchRateOf(queue.name),
    maxDispatchesPerSecond: queue.rateLimits.maxDispatchesPerSecond,
    maxBurstSize: queue.rateLimits.maxBurstSize,
    retry: { ...queue.retryConfig },
    ...(queue.httpTarget ? { target: targetView(queue.httpTarget) } : {}),
    counts: activity.countsOf(queue.name),
  };
}

function targetView(t: QueueHttpTarget): NonNullable<QueueView['target']> {
  const u = t.uriOverride;
  let uri: string | undefined;
  if (u?.host) {
    const host = u.host.includes(':') && !u.host.startsWith('[') ? `[${u.host}]` : u.host;
    const path = u.pathOverride?.path || '/';
    const query = u.queryOverride?.queryParams ? `?${u.queryOverride.queryParams}` : '';
    uri = redactUrl(
      `${u.scheme === 'HTTP' ? 'http' : 'https'}://${host}${u.port ? `:${u.port}` : ''}${path.startsWith('/') ? path : `/${path}`}${query}`,
    );
  }
  const headers = safeHeaders(Object.fromEntries((t.headerOverrides ?? []).map((h) => [h.header.key, h.header.value])));
  return {
    ...(uri ? { uri } : {}),
    ...(t.httpMethod ? { method: t.httpMethod } : {}),
    ...(t.oidcToken
      ? { token: `oidc ${t.oidcToken.serviceAccountEmail}` }
      : t.oauthToken
        ? { token: `oauth ${t.oauthToken.serviceAccountEmail}` }
        : {}),
    headers: Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  };
}

/** The phase of a task the activity does not know (created before it listened). */
function phaseOf(task: Task): TaskPhase {
  return task.dispatchCount > task.responseCount ? 'running' : task.dispatchCount > 0 ? 'retrying' : 'pending';
}

function lastResponse(task: Task, record: TaskRecord | undefined): string | undefined {
  const a = record?.attempts.at(-1);
  if (a?.status !== undefined) return `HTTP ${a.status}`;
  if (a?.reason) return a.reason;
  if (a?.outcome === 'in-flight') return 'in flight';
  const s = task.lastAttempt?.responseStatus;
  return s ? `${s.code === 0 ? 'OK' : `code ${s.code}`}${s.message ? `: ${s.message}` : ''}` : undefined;
}

export function taskListItem(task: Task, record: TaskRecord | undefined): TaskListItem {
  const response = lastResponse(task, record);
  return {
    name: task.name,
    taskId: task.taskId,
    phase: record?.phase ?? phaseOf(task),
    ...(record?.runId !== undefined ? { runId: record.runId } : {}),
    scheduleTime: iso(task.scheduleTimeMs),
    createTime: iso(task.createTimeMs),
    dispatchCount: task.dispatchCount,
    responseCount: task.responseCount,
    ...(response ? { lastResponse: response } : {}),
  };
}

export function taskDetail(task: Task, record: TaskRecord | undefined, live: boolean): TaskDetail {
  const r = task.httpRequest;
  return {
    ...taskListItem(task, record),
    queue: task.queueName,
    ...(record?.step !== undefined ? { step: record.step } : {}),
    live,
    url: redactUrl(r.url),
    httpMethod: r.httpMethod,
    headers: safeHeaders(r.headers),
    ...(r.oidcToken
      ? { token: `oidc ${r.oidcToken.serviceAccountEmail}` }
      : r.oauthToken
        ? { token: `oauth ${r.oauthToken.serviceAccountEmail}` }
        : {}),
    dispatchDeadlineSeconds: task.dispatchDeadlineSeconds,
    body: previewBody(r.body),
    attempts: (record?.attempts ?? []).map(attemptView),
  };
}
