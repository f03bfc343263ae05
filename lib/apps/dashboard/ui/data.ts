/**
 * The page's only data source: the JSON API of the server that served it (same origin), and its server-sent events.
 * `useResource` fetches a URL when a page opens it and again when a change event says its data moved, never more
 * than one request in flight per resource: a busy pipeline costs a few requests per second, not one per dispatch.
 */
import { createContext } from 'preact';
import { useContext, useEffect, useRef, useState } from 'preact/hooks';
import type { ApiError, ChangeEvent } from '../api-types';

export class ApiCallError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function parse<T>(res: Response): Promise<T> {
  const text = await res.text();
  let body: unknown;
  try {
    body = text === '' ? {} : JSON.parse(text);
  } catch {
    throw new ApiCallError(res.status, `the server answered ${res.status} with a body that is not JSON`);
  }
  if (!res.ok) throw new ApiCallError(res.status, (body as ApiError).error?.message ?? `HTTP ${res.status}`);
  return body as T;
}

export async function getJson<T>(url: string): Promise<T> {
  return parse<T>(await fetch(url, { headers: { accept: 'application/json' } }));
}

/** An action: JSON in, JSON out (the server refuses anything else). */
export async function sendJson<T>(method: 'POST' | 'DELETE', url: string, body: unknown = {}): Promise<T> {
  return parse<T>(
    await fetch(url, {
      method,
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: method === 'POST' ? JSON.stringify(body) : undefined,
    }),
  );
}

/** The API path of a queue or task: its resource name under /api/. */
export const resourceUrl = (name: string) => `/api/${name.split('/').map(encodeURIComponent).join('/')}`;

// ------------------------------------------------------------------ live updates

export interface LiveState {
  /** Whether the event stream is connected. */
  readonly connected: boolean;
  /** Subscribes to change events; returns the unsubscribe function. */
  readonly subscribe: (listener: (change: ChangeEvent) => void) => () => void;
}

const listeners = new Set<(change: ChangeEvent) => void>();
export const LiveContext = createContext<LiveState>({ connected: false, subscribe: () => () => undefined });

/** Opens the event stream once for the page; EventSource reconnects by itself (the server says after 2 s). */
export function useEventStream(): LiveState {
  const [connected, setConnected] = useState(false);
  useEffect(() => {
    const source = new EventSource('/api/events');
    source.addEventListener('hello', () => setConnected(true));
    source.addEventListener('change', (e) => {
      setConnected(true);
      const change = JSON.parse((e as MessageEvent<string>).data) as ChangeEvent;
      for (const l of listeners) l(change);
    });
    source.onerror = () => setConnected(false);
    return () => source.close();
  }, []);
  return {
    connected,
    subscribe: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
}

export interface Resource<T> {
  readonly data?: T;
  readonly error?: ApiCallError;
  readonly loading: boolean;
  /** Fetches again now (after an action). */
  readonly reload: () => void;
}

/**
 * Fetches `url` (null: nothing) and again whenever `affected(change)` says a change event concerns it. A change that
 * arrives while a request is in flight triggers one more request when it returns.
 */
export function useResource<T>(url: string | null, affected: (change: ChangeEvent) => boolean): Resource<T> {
  const live = useContext(LiveContext);
  const [state, setState] = useState<{ data?: T; error?: ApiCallError; loading: boolean }>({ loading: true });
  const inFlight = useRef(false);
  const again = useRef(false);
  const current = useRef(url);
  const affectedRef = useRef(affected);
  affectedRef.current = affected;

  const load = () => {
    if (current.current === null) return;
    if (inFlight.current) {
      again.current = true;
      return;
    }
    inFlight.current = true;
    const requested = current.current;
    getJson<T>(requested)
      .then(
        (data) => {
          if (current.current === requested) setState({ data, loading: false });
        },
        (error: unknown) => {
          if (current.current === requested)
            setState((s) => ({
              ...s,
              error: error instanceof ApiCallError ? error : new ApiCallError(0, String(error)),
              loading: false,
            }));
        },
      )
      .finally(() => {
        inFlight.current = false;
        if (again.current) {
          again.current = false;
          load();
        }
      });
  };

  useEffect(() => {
    current.current = url;
    setState({ loading: url !== null });
    load();
    return live.subscribe((change) => {
      if (affectedRef.current(change)) load();
    });
  }, [url]);
  return { ...state, reload: load };
}
