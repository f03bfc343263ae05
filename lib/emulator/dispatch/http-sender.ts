/**
 * Sends dispatch requests with undici (the HTTP client behind Node's fetch): one connection pool per origin, kept
 * alive and reused across attempts, as the service keeps connections to a target warm. The dispatcher decides how
 * many requests are in flight; the pools cap connections per origin (CONNECTIONS_PER_ORIGIN below).
 *
 * Why undici and not node:http: the dispatch ceiling (10 queues x 500/s against one worker in another process) is the
 * emulator's main thread, and node:http's client spent most of it (ClientRequest, the agent, header checks, writev):
 * about 3,400 dispatches/s on this machine against a budget of 4,500. undici sends the same requests for about half
 * the CPU (docs/BENCHMARKS.md, "Dispatch"; docs/decisions/emulator-http-client.md).
 *
 * Why `dispatch()` with a handler and not `request()`: the response body is never used, and `request()` wraps every
 * response in a Readable stream, an AsyncResource and an abort-signal listener, which at 5,000 attempts/s were a
 * fifth of the thread. The handler below only watches the status, the Retry-After header and the end of the response.
 */
import { Agent, errors, type Dispatcher } from 'undici';
import type { Clock } from '../clock';

/** Header values as the dispatcher builds them. */
export type SendHeaders = Readonly<Record<string, string>>;

export interface SendRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: SendHeaders;
  readonly body: Buffer;
  /** No complete response by then = failure (task.proto dispatch_deadline). */
  readonly deadlineMs: number;
}

export interface SendResult {
  /** HTTP status, when a response arrived in time. */
  readonly status?: number;
  /** The response's Retry-After header. */
  readonly retryAfter?: string;
  /** Why there is no status: `deadline exceeded`, `ECONNREFUSED`, ... */
  readonly error?: string;
  readonly timedOut: boolean;
}

/**
 * Connections kept per origin (a worker's scheme, host and port). Above it, requests wait in the pool for a free
 * connection: they count as in flight for the queue, but the worker sees at most this many at once. Local workers
 * are one process on a laptop, and every connection costs the dispatcher's thread (10 x 500/s against one worker:
 * uncapped, thousands of connections and under 3,400 dispatches/s; 128, about 4,800/s with every queue within 6 % of
 * its rate; 256, 5,400/s but queues 8-9 % over their rate at the worker, the pool's backlog arriving late). The cap
 * is far above what a local worker serves usefully at once (docs/emulator.md, "Differences").
 */
export const CONNECTIONS_PER_ORIGIN = 128;

/** Methods whose requests carry a Content-Length even when empty (what node:http sent, and the service does). */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** Parsed task URLs, by URL: the tasks of a queue usually share one, and parsing is a measurable part of an attempt. */
const URL_CACHE_SIZE = 1024;

type Target = { readonly origin: string; readonly path: string } | { readonly error: string };

export class HttpSender {
  // The dispatch deadline is ours (below); undici's own header and body timeouts (300 s) would cut a 30-minute one.
  private readonly agent = new Agent({
    headersTimeout: 0,
    bodyTimeout: 0,
    keepAliveTimeout: 60_000,
    connections: CONNECTIONS_PER_ORIGIN,
  });
  private readonly targets = new Map<string, Target>();

  constructor(private readonly clock: Clock) {}

  send(r: SendRequest): Promise<SendResult> {
    const target = this.target(r.url);
    // A URL the client refuses: the attempt fails like a connection error and is retried by the queue.
    if ('error' in target) return Promise.resolve({ error: target.error, timedOut: false });
    const headers: string[] = [];
    for (const key in r.headers) headers.push(key, r.headers[key]);
    if (r.body.byteLength > 0 || BODY_METHODS.has(r.method)) headers.push('content-length', String(r.body.byteLength));
    return new Promise((resolve) => {
      const attempt = new Attempt(resolve);
      attempt.cancelDeadline = this.clock.setTimer(() => attempt.deadlineExceeded(), r.deadlineMs);
      try {
        this.agent.dispatch(
          {
            origin: target.origin,
            path: target.path,
            method: r.method as Dispatcher.HttpMethod,
            headers,
            body: r.body.byteLength > 0 ? r.body : null,
          },
          attempt,
        );
      } catch (err) {
        // Options undici refuses up front (a header value it will not send): not sent.
        attempt.finish({ error: describe(err as Error), timedOut: false });
      }
    });
  }

  close(): void {
    void this.agent.destroy().catch(() => undefined);
  }

  private target(url: string): Target {
    let target = this.targets.get(url);
    if (target) return target;
    try {
      const parsed = new URL(url);
      target = { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
    } catch (err) {
      target = { error: `request not sent: ${(err as Error).message}` };
    }
    if (this.targets.size >= URL_CACHE_SIZE) this.targets.clear();
    this.targets.set(url, target);
    return target;
  }
}

/** One attempt's undici handler: settles once, with the final status, an error, or the deadline. */
class Attempt implements Dispatcher.DispatchHandler {
  cancelDeadline: (() => void) | undefined;
  private controller: Dispatcher.DispatchController | undefined;
  private status: number | undefined;
  private retryAfter: string | undefined;
  private settled = false;

  constructor(private readonly resolve: (result: SendResult) => void) {}

  onRequestStart(controller: Dispatcher.DispatchController): void {
    // The deadline can pass while the request waits in the pool for a connection: then it is not sent at all.
    if (this.settled) controller.abort(new Error('deadline exceeded'));
    else this.controller = controller;
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    if (statusCode < 200) return; // 1xx: informational, the final response follows
    this.status = statusCode;
    const retryAfter = headers['retry-after'];
    if (retryAfter !== undefined) this.retryAfter = String(retryAfter);
  }

  // The body is not used; undici reads it to the end, so the connection goes back to the pool.
  onResponseData(): void {}

  onResponseEnd(): void {
    const status = this.status;
    if (status === undefined) this.finish({ error: 'the response had no status', timedOut: false });
    else
      this.finish({
        status,
        ...(this.retryAfter !== undefined ? { retryAfter: this.retryAfter } : {}),
        timedOut: false,
      });
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.finish({ error: describe(err), timedOut: false });
  }

  deadlineExceeded(): void {
    if (this.settled) return;
    this.finish({ error: 'deadline exceeded', timedOut: true });
    this.controller?.abort(new Error('deadline exceeded'));
  }

  finish(result: SendResult): void {
    if (this.settled) return;
    this.settled = true;
    this.cancelDeadline?.();
    this.resolve(result);
  }
}

function describe(err: Error): string {
  // undici wraps socket errors: the cause carries the errno code (ECONNREFUSED, ECONNRESET, ...).
  const cause = (err as { cause?: NodeJS.ErrnoException }).cause;
  const code = cause?.code ?? (err as NodeJS.ErrnoException).code;
  if (err instanceof errors.InvalidArgumentError) return `request not sent: ${err.message}`;
  const message = cause?.message ?? err.message;
  return code ? `${code}: ${message}` : message;
}
