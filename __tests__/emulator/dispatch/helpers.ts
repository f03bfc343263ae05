/**
 * A recording HTTP target for dispatch tests: one loopback server, one handler per path prefix (`/<scenario>/...`),
 * every request kept with its arrival time, headers and body.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';

export interface Received {
  readonly path: string;
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** Date.now() when the request arrived. */
  readonly at: number;
}

/** Answers one request. `n` is how many requests this scenario has seen, 1 for the first. */
export type Handler = (req: Received, res: ServerResponse, n: number) => void;

export class RecordingTarget {
  private readonly server: Server;
  private readonly handlers = new Map<string, Handler>();
  private readonly received = new Map<string, Received[]>();
  private inFlight = new Map<string, number>();
  private maxInFlight = new Map<string, number>();
  port = 0;

  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = req.url ?? '/';
        const scenario = path.split('/')[1] ?? '';
        const r: Received = {
          path,
          method: req.method ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString(),
          at: Date.now(),
        };
        const list = this.received.get(scenario) ?? [];
        list.push(r);
        this.received.set(scenario, list);
        const now = (this.inFlight.get(scenario) ?? 0) + 1;
        this.inFlight.set(scenario, now);
        this.maxInFlight.set(scenario, Math.max(now, this.maxInFlight.get(scenario) ?? 0));
        res.on('finish', () => this.inFlight.set(scenario, (this.inFlight.get(scenario) ?? 1) - 1));
        res.on('close', () => {
          if (!res.writableFinished) this.inFlight.set(scenario, (this.inFlight.get(scenario) ?? 1) - 1);
        });
        const handler = this.handlers.get(scenario);
        if (handler) handler(r, res, list.length);
        else res.writeHead(404).end();
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  /** Registers a scenario; returns its base URL, `http://127.0.0.1:<port>/<scenario>`. */
  handle(scenario: string, handler: Handler): string {
    this.handlers.set(scenario, handler);
    return `http://127.0.0.1:${this.port}/${scenario}`;
  }

  requests(scenario: string): Received[] {
    return this.received.get(scenario) ?? [];
  }

  peakInFlight(scenario: string): number {
    return this.maxInFlight.get(scenario) ?? 0;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Polls `check` every 10 ms until it is true; fails with `what` after `timeoutMs`. */
export async function waitUntil(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const ok: Handler = (_req, res) => res.writeHead(200).end('ok');
export const fail =
  (status = 500): Handler =>
  (_req, res) =>
    res.writeHead(status).end('no');
