/**
 * Sends dispatch requests with Node's http/https clients on keep-alive agents (one connection pool per origin,
 * reused across attempts, as the service keeps connections to a target warm). The dispatcher decides how many
 * requests are in flight; the agents do not cap sockets on their own. (A cap of 256 per origin was measured and
 * dropped: with 10 queues x 500/s against one worker it dispatched 2,777/s against 4,076/s uncapped, the requests
 * waiting in the agent's queue; docs/BENCHMARKS.md.)
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Clock } from '../clock';

export interface SendRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: OutgoingHttpHeaders;
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

export class HttpSender {
  private readonly httpAgent = new HttpAgent({ keepAlive: true, maxSockets: Infinity, scheduling: 'lifo' });
  private readonly httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: Infinity, scheduling: 'lifo' });

  constructor(private readonly clock: Clock) {}

  send(r: SendRequest): Promise<SendResult> {
    return new Promise((resolve) => {
      let settled = false;
      const finish = (result: SendResult): void => {
        if (settled) return;
        settled = true;
        cancelDeadline();
        resolve(result);
      };
      const isHttps = r.url.startsWith('https:');
      const headers: OutgoingHttpHeaders = { ...r.headers };
      if (r.body.byteLength > 0 || ['POST', 'PUT', 'PATCH'].includes(r.method))
        headers['Content-Length'] = r.body.byteLength;
      let req: ReturnType<typeof httpRequest>;
      try {
        req = (isHttps ? httpsRequest : httpRequest)(r.url, {
          method: r.method,
          headers,
          agent: isHttps ? this.httpsAgent : this.httpAgent,
        });
      } catch (err) {
        // A URL or header Node refuses: the attempt fails like a connection error and is retried by the queue.
        settled = true;
        resolve({ error: `request not sent: ${(err as Error).message}`, timedOut: false });
        return;
      }
      const cancelDeadline = this.clock.setTimer(() => {
        finish({ error: 'deadline exceeded', timedOut: true });
        req.destroy();
      }, r.deadlineMs);
      req.on('response', (res: IncomingMessage) => {
        const retryAfter = res.headers['retry-after'];
        // The body is not used; read it to the end so the connection goes back to the pool.
        res.on('data', () => undefined);
        res.on('end', () =>
          finish({
            status: res.statusCode ?? 0,
            ...(retryAfter !== undefined ? { retryAfter: String(retryAfter) } : {}),
            timedOut: false,
          }),
        );
        res.on('error', (err) => finish({ error: describe(err), timedOut: false }));
      });
      req.on('error', (err) => finish({ error: describe(err), timedOut: false }));
      req.end(r.body.byteLength > 0 ? r.body : undefined);
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

function describe(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code ? `${code}: ${err.message}` : err.message;
}
