/**
 * CreateTask's request validation: the HTTP request (URL, method, headers, body, token), the stored task's size as
 * the service counts it, schedule_time and dispatch_deadline. Every rule is from lib/core/rules/cloud-tasks.ts; this
 * file decides only which field a broken rule names.
 */
import {
  HTTP_METHODS,
  LIMITS,
  SERVICE_DEFAULTS,
  apiHeaderProblems,
  apiUrlProblems,
  bodyMethodProblems,
  dispatchDeadlineProblems,
  scheduleTimeProblems,
  storedTaskSizeBytes,
  taskSizeProblems,
} from '../../core/rules/cloud-tasks';
import type { Problem } from '../../core/problem';
import { EmulatorError, Code, invalidArgument, throwProblems } from '../errors';
import type { TaskHttpRequest, TaskInput } from '../model';

/** The validated parts of a new task. */
export interface ResolvedTaskRequest {
  readonly httpRequest: TaskHttpRequest;
  readonly scheduleTimeMs: number;
  readonly dispatchDeadlineSeconds: number;
}

/**
 * Validates a CreateTask (or BufferTask) request for the task `name` at `nowMs`. The stored headers gain
 * `User-Agent: Google-Cloud-Tasks`, as the service stores them (target.proto HttpRequest.headers: "User-Agent ... set
 * to Google-Cloud-Tasks"; visible in CreateTask and GetTask responses).
 */
export function resolveTaskRequest(input: TaskInput, name: string, nowMs: number): ResolvedTaskRequest {
  const httpRequest = resolveHttpRequest(input);
  const token = httpRequest.oidcToken
    ? {
        serviceAccountEmail: httpRequest.oidcToken.serviceAccountEmail,
        audienceOrScope: httpRequest.oidcToken.audience,
      }
    : httpRequest.oauthToken
      ? {
          serviceAccountEmail: httpRequest.oauthToken.serviceAccountEmail,
          audienceOrScope: httpRequest.oauthToken.scope,
        }
      : undefined;
  throwProblems(
    [],
    taskSizeProblems(
      storedTaskSizeBytes({ name, url: httpRequest.url, headers: httpRequest.headers, body: httpRequest.body, token }),
      ['task'],
    ),
  );
  // Unset or in the past = now (task.proto schedule_time); kept to the microsecond.
  const scheduleTimeMs =
    input.scheduleTimeMs === undefined || input.scheduleTimeMs < nowMs ? nowMs : input.scheduleTimeMs;
  throwProblems(['task'], scheduleTimeProblems(new Date(scheduleTimeMs), new Date(nowMs), ['scheduleTime']));
  const dispatchDeadlineSeconds = input.dispatchDeadlineSeconds ?? SERVICE_DEFAULTS.dispatchDeadlineSeconds;
  throwProblems(['task'], dispatchDeadlineProblems(dispatchDeadlineSeconds, ['dispatchDeadline']));
  return { httpRequest, scheduleTimeMs, dispatchDeadlineSeconds };
}

function resolveHttpRequest(input: TaskInput): TaskHttpRequest {
  if (input.appEngineHttpRequest !== undefined)
    throw new EmulatorError(
      Code.UNIMPLEMENTED,
      'task.appEngineHttpRequest: App Engine tasks are not emulated; use task.httpRequest',
    );
  const req = input.httpRequest;
  if (!req)
    throw invalidArgument('task.httpRequest is required: the emulator runs HTTP tasks (set httpRequest.url)', [
      { field: 'task.http_request', description: 'is required' },
    ]);
  const url = req.url ?? '';
  const httpMethod = req.httpMethod ?? 'POST';
  if (!HTTP_METHODS.includes(httpMethod))
    throw invalidArgument(`task.httpRequest.httpMethod = "${httpMethod}": use one of ${HTTP_METHODS.join(', ')}`, [
      { field: 'task.http_request.http_method', description: `use one of ${HTTP_METHODS.join(', ')}` },
    ]);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers ?? {})) if (k.toLowerCase() !== 'user-agent') headers[k] = v;
  const body = req.body ? Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength) : Buffer.alloc(0);
  const problems: Problem[] = [
    ...apiUrlProblems(url, ['url']),
    ...apiHeaderProblems(req.headers ?? {}, ['headers']),
    ...bodyMethodProblems(httpMethod, body.byteLength, ['body']),
  ];
  if (req.oidcToken && req.oauthToken)
    problems.push({ path: ['oidcToken'], value: '(set)', message: 'set oidcToken or oauthToken, not both' });
  const token = req.oidcToken ?? req.oauthToken;
  if (token && !token.serviceAccountEmail)
    problems.push({
      path: [req.oidcToken ? 'oidcToken' : 'oauthToken', 'serviceAccountEmail'],
      value: '',
      message: 'is required: the service account the token is issued for',
    });
  throwProblems(['task', 'httpRequest'], problems);
  headers['User-Agent'] = LIMITS.taskUserAgent;
  return {
    url,
    httpMethod,
    headers,
    body,
    ...(req.oidcToken
      ? {
          oidcToken: {
            serviceAccountEmail: req.oidcToken.serviceAccountEmail!,
            ...(req.oidcToken.audience ? { audience: req.oidcToken.audience } : {}),
          },
        }
      : {}),
    ...(req.oauthToken
      ? {
          oauthToken: {
            serviceAccountEmail: req.oauthToken.serviceAccountEmail!,
            ...(req.oauthToken.scope ? { scope: req.oauthToken.scope } : {}),
          },
        }
      : {}),
  };
}
