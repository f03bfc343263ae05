/**
 * Sends dispatch requests with undici (the HTTP client behind Node's fetch): one connection pool per origin, kept
 * alive and reused across attempts, as the service keeps connections to a target warm. The dispatcher decides how
 * many requests are in flight; the pools do not cap connections on their own, so a queue's maxConcurrentDispatches
 * is what the worker sees.
 *
 * Why undici and not node:http: the dispatch ceiling (10 queues x 500/s against one worker in another process) is the
 * emulator's main thread, and node:http's client spent most of it (ClientRequest, the agent, header checks, writev):
 * about 3,400 dispatches/s on this machine against a budget of 4,500. undici sends the same requests for about half
 * the CPU (docs/BENCHMARKS.md, "Dispatch"; docs/decisions/emulator-http-client.md).
 */
import { EventEmitter } from 'node:events';
import { Agent, errors } from 'undici';
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

export class HttpSender {
  // The dispatch deadline is ours (below); undici's own header and body timeouts (300 s) would cut a 30-minute one.
  private readonly agent = new Agent({
    headersTimeout: 0,
    bodyTimeout: 0,
    keepAliveTimeout: 60_000,
    connections: CONNECTIONS_PER_ORIGIN,
  });

  constructor(private readonly clock: Clock) {}

  async send(r: SendRequest): Promise<SendResult> {
    let url: URL;
    try {
      url = new URL(r.url);
    } catch (err) {
      // A URL the client refuses: the attempt fails like a connection error and is retried by the queue.
      return { error: `request not sent: ${(err as Error).message}`, timedOut: false };
    }
    // undici takes an EventEmitter as the abort signal (its documented `signal` type): cheaper than an AbortController,
    // whose creation and listeners were 3 % of the dispatcher's thread at 10 x 500/s.
    const abort = new EventEmitter();
    let timedOut = false;
    const cancelDeadline = this.clock.setTimer(() => {
      timedOut = true;
      abort.emit('abort');
    }, r.deadlineMs);
    const headers: Record<string, string> = { ...r.headers };
    if (r.body.byteLength > 0 || BODY_METHODS.has(r.method)) headers['content-length'] = String(r.body.byteLength);
    try {
      const res = await this.agent.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: r.method as 'POST',
        headers,
        body: r.body.byteLength > 0 ? r.body : undefined,
        signal: abort,
      });
      // The body is not used; read it to the end so the connection goes back to the pool.
      await res.body.dump({ limit: Number.POSITIVE_INFINITY });
      const retryAfter = res.headers['retry-after'];
      return {
        status: res.statusCode,
        ...(retryAfter !== undefined ? { retryAfter: String(retryAfter) } : {}),
        timedOut: false,
      };
    } catch (err) {
      if (timedOut) return { error: 'deadline exceeded', timedOut: true };
      return { error: describe(err as Error), timedOut: false };
    } finally {
      cancelDeadline();
    }
  }

  close(): void {
    void this.agent.destroy().catch(() => undefined);
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
