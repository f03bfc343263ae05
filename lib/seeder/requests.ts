/**
 * ManifestTask -> CreateTaskRequest, as a pure function: the exact request the seeder sends is testable without a
 * server, and the same function serves the real service and the local emulator.
 */
import type { protos } from '@google-cloud/tasks';
import type { ManifestTask } from '../core/manifest';
import { parseRfc3339, RFC3339_HINT } from '../core/rules/timestamp';

export type CreateTaskRequest = protos.google.cloud.tasks.v2.ICreateTaskRequest;
type HttpRequest = protos.google.cloud.tasks.v2.IHttpRequest;
type Task = protos.google.cloud.tasks.v2.ITask;

/** Full task name: `projects/{project}/locations/{location}/queues/{queue}/tasks/{taskId}` (task.proto Task.name). */
export function taskNameFor(task: Pick<ManifestTask, 'queue' | 'taskId'>): string {
  return `${task.queue}/tasks/${task.taskId}`;
}

/**
 * The CreateTask request for one manifest task. The task is named, so Cloud Tasks deduplicates it: a second create
 * of the same name fails with ALREADY_EXISTS instead of enqueueing a duplicate (cloudtasks.proto CreateTaskRequest).
 */
export function createTaskRequest(task: ManifestTask): CreateTaskRequest {
  const source = task.httpRequest;
  const httpRequest: HttpRequest = {
    url: source.url,
    httpMethod: source.httpMethod,
    headers: { ...source.headers },
  };
  // The API takes bytes; the manifest stores UTF-8 text. Buffer.from keeps every byte (shell metacharacters,
  // quotes, newlines, non-ASCII) exactly as written: nothing here or later passes through a shell.
  if (source.body !== undefined) httpRequest.body = Buffer.from(source.body, 'utf8');
  if (source.oidcToken)
    httpRequest.oidcToken = {
      serviceAccountEmail: source.oidcToken.serviceAccountEmail,
      audience: source.oidcToken.audience,
    };
  if (source.oauthToken)
    httpRequest.oauthToken = {
      serviceAccountEmail: source.oauthToken.serviceAccountEmail,
      scope: source.oauthToken.scope,
    };

  const out: Task = {
    name: taskNameFor(task),
    httpRequest,
    dispatchDeadline: { seconds: task.dispatchDeadlineSeconds, nanos: 0 },
  };
  // A schedule time in the past is sent as is: Cloud Tasks dispatches such a task immediately (task.proto).
  if (task.scheduleTime !== undefined) out.scheduleTime = timestampFromRfc3339(task.scheduleTime);
  return { parent: task.queue, task: out };
}

/**
 * google.protobuf.Timestamp for an RFC 3339 string (lib/core/rules/timestamp.ts), keeping sub-millisecond digits that
 * a JS Date would drop. Throws on anything else (the manifest is validated before any request is built).
 */
export function timestampFromRfc3339(text: string): { seconds: number; nanos: number } {
  const parsed = parseRfc3339(text);
  if (!parsed) throw new Error(`"${text}" is not an RFC 3339 timestamp: ${RFC3339_HINT}`);
  return { seconds: parsed.seconds, nanos: parsed.nanos };
}
