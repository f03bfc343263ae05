/**
 * What a task's HTTP request becomes at dispatch: the task's own request with the queue-level HTTP target applied
 * (URI override, method, header overrides, token), the headers Cloud Tasks reserves removed, and the token to attach.
 * Pure functions, so routing can be tested without sending anything.
 */
import { isReservedHeader, METHODS_WITH_BODY, type HttpMethod } from '../../core/rules/cloud-tasks';
import type { Queue, QueueHttpTarget, Task } from '../model';

export type DispatchToken =
  | { readonly kind: 'oidc'; readonly serviceAccountEmail: string; readonly audience: string }
  | { readonly kind: 'oauth'; readonly serviceAccountEmail: string; readonly scope: string };

export interface ResolvedRequest {
  readonly url: string;
  readonly method: HttpMethod;
  /** The task's and the queue's headers, without the ones Cloud Tasks sets itself. */
  readonly headers: Record<string, string>;
  /** Empty for methods without a body (target.proto: a GET override ignores the body). */
  readonly body: Buffer;
  readonly token?: DispatchToken;
}

/** target.proto OAuthToken.scope: "If not specified, https://www.googleapis.com/auth/cloud-platform will be used". */
const DEFAULT_OAUTH_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

export function resolveRequest(task: Task, queue: Queue): ResolvedRequest {
  const req = task.httpRequest;
  const target = queue.httpTarget;
  const url = target?.uriOverride ? applyUriOverride(req.url, target.uriOverride) : req.url;
  const method = target?.httpMethod ?? req.httpMethod;

  const headers: Record<string, string> = {};
  const set = (key: string, value: string): void => {
    for (const existing of Object.keys(headers))
      if (existing.toLowerCase() === key.toLowerCase()) delete headers[existing];
    headers[key] = value;
  };
  for (const [k, v] of Object.entries(req.headers)) set(k, v);
  for (const o of target?.headerOverrides ?? []) set(o.header.key, o.header.value);
  // target.proto: Host, Content-Length, User-Agent, X-Google-*, X-AppEngine-* (and X-CloudTasks-*) are computed by
  // the service. A static Authorization header is kept unless a token replaces it.
  for (const k of Object.keys(headers))
    if (k.toLowerCase() !== 'authorization' && isReservedHeader(k)) delete headers[k];

  // Queue-level auth overrides the task's (configuring-queues docs: "Configuring authentication at the queue level
  // overrides task-level authentication").
  const auth = target && (target.oidcToken || target.oauthToken) ? target : req;
  const oidc = auth.oidcToken;
  const oauth = auth.oauthToken;
  let token: DispatchToken | undefined;
  // target.proto OidcToken.audience: "If not specified, the URI specified in target will be used".
  if (oidc) token = { kind: 'oidc', serviceAccountEmail: oidc.serviceAccountEmail, audience: oidc.audience || url };
  else if (oauth)
    token = {
      kind: 'oauth',
      serviceAccountEmail: oauth.serviceAccountEmail,
      scope: oauth.scope || DEFAULT_OAUTH_SCOPE,
    };
  if (token) for (const k of Object.keys(headers)) if (k.toLowerCase() === 'authorization') delete headers[k];

  const body = METHODS_WITH_BODY.includes(method) ? req.body : Buffer.alloc(0);
  return { url, method, headers, body, ...(token ? { token } : {}) };
}

/**
 * v2beta3 target.proto UriOverride. ALWAYS (also the default, "Defaults to ALWAYS") replaces every part it names;
 * IF_NOT_EXISTS applies a part only where the task's URL lacks it (a task URL always has a scheme and host, so only
 * a missing port, an empty path or an empty query are filled in). Port 0 clears the port; an empty path or query
 * clears that part.
 */
export function applyUriOverride(taskUrl: string, o: NonNullable<QueueHttpTarget['uriOverride']>): string {
  const url = new URL(taskUrl);
  const always = (o.uriOverrideEnforceMode ?? 'ALWAYS') === 'ALWAYS';
  if (always && o.scheme) url.protocol = o.scheme === 'HTTP' ? 'http:' : 'https:';
  if (always && o.host) url.hostname = o.host.includes(':') && !o.host.startsWith('[') ? `[${o.host}]` : o.host;
  if (o.port !== undefined && (always || url.port === '')) url.port = o.port === 0 ? '' : String(o.port);
  if (o.pathOverride && (always || url.pathname === '/' || url.pathname === ''))
    url.pathname = o.pathOverride.path ?? '';
  if (o.queryOverride && (always || url.search === '')) {
    const q = o.queryOverride.queryParams ?? '';
    url.search = q ? `?${q}` : '';
  }
  return url.toString();
}
