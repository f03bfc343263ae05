/**
 * `npm run emulator -- --route <queue-id>=<url>`: tasks usually carry production URLs (the seeder's manifest, code
 * written for Cloud Tasks). A route gives a queue a queue-level http_target whose uri_override (ALWAYS) sends its
 * tasks to `url` instead: its scheme, host and port, and its path and query when it has them (else the task's).
 * The v2 gRPC API cannot set a queue's http_target, so this is how a CLI user points queues at local workers.
 */
import type { QueueHttpTarget } from '../model';
import type { EmulatorState } from '../state';

/** Queue id (or `*` for every queue) -> URL. */
export type Routes = ReadonlyMap<string, string>;

/** Parses `<queue-id or *>=<http(s) URL>`; throws a message naming the expected form. */
export function parseRoute(text: string): [string, string] {
  const eq = text.indexOf('=');
  const queue = eq > 0 ? text.slice(0, eq) : '';
  const url = eq > 0 ? text.slice(eq + 1) : '';
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (
    !/^(\*|[A-Za-z0-9-]{1,100})$/.test(queue) ||
    !parsed ||
    (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
  )
    throw new Error(
      `expected <queue-id or *>=<http(s) URL>, e.g. recsys-dev-train=http://127.0.0.1:8080, got "${text}"`,
    );
  return [queue, url];
}

/** The uri_override that sends a task to `url`, keeping the task's path and query unless the URL has its own. */
export function uriOverrideFor(url: string): NonNullable<QueueHttpTarget['uriOverride']> {
  const u = new URL(url);
  return {
    scheme: u.protocol === 'https:' ? 'HTTPS' : 'HTTP',
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port !== '' ? Number(u.port) : u.protocol === 'https:' ? 443 : 80,
    ...(u.pathname !== '/' ? { pathOverride: { path: u.pathname } } : {}),
    ...(u.search !== '' ? { queryOverride: { queryParams: u.search.slice(1) } } : {}),
    uriOverrideEnforceMode: 'ALWAYS',
  };
}

/**
 * Applies the routes to the queues that exist and to every queue created later. Returns the unsubscribe function.
 * A queue's own token and header overrides are kept.
 */
export function applyRoutes(state: EmulatorState, routes: Routes): () => void {
  if (routes.size === 0) return () => undefined;
  const route = (name: string, queueId: string, current: QueueHttpTarget | undefined): void => {
    const url = routes.get(queueId) ?? routes.get('*');
    if (url) state.setQueueHttpTarget(name, { ...current, uriOverride: uriOverrideFor(url) });
  };
  for (const q of state.queues()) route(q.name, q.queueId, q.httpTarget);
  return state.onEvent((e) => {
    if (e.type === 'queue-created') route(e.queue.name, e.queue.queueId, e.queue.httpTarget);
  });
}
