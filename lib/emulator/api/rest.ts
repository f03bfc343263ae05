/**
 * The REST face: the HTTP/JSON mapping of the same services (google/api/http.proto gRPC Transcoding), on node:http,
 * calling the same handlers as gRPC. What it does, as Google's front end does:
 *
 * - routes from the `google.api.http` options (routes.ts); path variables, then the body (`*` = the whole request,
 *   or one field), then query parameters (`pageSize`, `responseView`, `updateMask=a,b`, `readMask`; camelCase or
 *   snake_case) fill the request message;
 * - proto3 JSON mapping (proto3-json-serializer, google-gax's own): camelCase names (snake_case accepted on input),
 *   Duration `"1.5s"`, Timestamp RFC 3339 with up to nanoseconds, bytes base64, int64 as strings, enums by name (by
 *   number with `$alt=json;enum-encoding=int`, what google-gax's REST transport asks for);
 * - system parameters (`alt`, `$prettyPrint`, `fields`, `key`, ...) accepted; unknown fields and parameters refused
 *   with Google's wording; errors as `{"error": {"code", "message", "status", "details"}}` with the HTTP status of the
 *   code (google/rpc/code.proto);
 * - BufferTask takes the raw request body and Content-Type (google.api.HttpBody) with any HTTP method.
 *
 * A call that changed the state is answered only once the change is durable (the data dir's group commit).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type * as Protobuf from 'protobufjs';
import type * as Proto3Json from 'proto3-json-serializer';
import { Code, EmulatorError, codeName, httpStatusOf, invalidArgument } from '../errors';
import { OBJECT_OPTIONS, cloudTasksApi } from '../protos';
import type { Handler, Request } from './handlers';
import { routeTable, type Route } from './routes';
import { detailsJson } from './status-details';

/** Query parameters every Google API accepts (system parameters); ignored here except prettyPrint and alt. */
const SYSTEM_PARAMETERS = new Set([
  'alt',
  '$alt',
  'prettyPrint',
  '$prettyPrint',
  'fields',
  '$fields',
  'key',
  'access_token',
  'oauth_token',
  'quotaUser',
  '$.xgafv',
  'callback',
  '$callback',
  'upload_protocol',
  'uploadType',
  'trace',
  'userIp',
]);

/** Largest request body accepted: a task is at most 1 MB, base64 adds a third, JSON a little more. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

const WELL_KNOWN_SCALARS = new Set([
  '.google.protobuf.Timestamp',
  '.google.protobuf.Duration',
  '.google.protobuf.FieldMask',
  '.google.protobuf.Any',
  '.google.protobuf.Struct',
  '.google.protobuf.Value',
  '.google.protobuf.ListValue',
]);

export interface RestServerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly handlers: Record<string, Handler>;
  /** Resolves once every change so far is durable. */
  readonly whenDurable: () => Promise<void>;
}

export interface RunningRestServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startRestServer(options: RestServerOptions): Promise<RunningRestServer> {
  const api = cloudTasksApi();
  const json = require('proto3-json-serializer') as typeof Proto3Json;
  const routes = routeTable([api.tasks, api.locations]);
  const server: Server = createServer((req, res) => {
    void serve(req, res, routes, json, options).catch((err: unknown) => {
      console.error('cloud-tasks emulator: REST request failed internally', err);
      if (!res.headersSent) sendError(res, new EmulatorError(Code.INTERNAL, String(err)), true);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 60_000;
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve((server.address() as { port: number }).port);
    });
  });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // Connections with a call in flight finish it (the grace is the caller's, like gRPC's tryShutdown).
        setTimeout(() => server.closeAllConnections(), 2000).unref();
      }),
  };
}

async function serve(
  req: IncomingMessage,
  res: ServerResponse,
  routes: readonly Route[],
  json: typeof Proto3Json,
  options: RestServerOptions,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://emulator');
  const pretty = !['false', '0'].includes(
    url.searchParams.get('prettyPrint') ?? url.searchParams.get('$prettyPrint') ?? '',
  );
  const alt = url.searchParams.get('$alt') ?? url.searchParams.get('alt') ?? 'json';
  const numericEnums = /(^|;)\s*enum-encoding=int\b/.test(alt);
  const body = await readBody(req).catch((err: EmulatorError) => err);
  if (body instanceof EmulatorError) return sendError(res, body, pretty);

  const method = (req.method ?? 'GET').toUpperCase();
  let route: Route | undefined;
  let vars: Record<string, string> | undefined;
  let pathMatched = false;
  for (const r of routes) {
    const v = r.match(url.pathname);
    if (!v) continue;
    pathMatched = true;
    if (r.httpMethod !== '*' && r.httpMethod !== method) continue;
    route = r;
    vars = v;
    break;
  }
  if (!route || !vars)
    return sendError(
      res,
      new EmulatorError(
        Code.NOT_FOUND,
        pathMatched
          ? `${method} is not allowed on ${url.pathname}: see the Cloud Tasks v2 REST reference for the method of each call`
          : `The requested URL ${url.pathname} was not found on this server. The emulator serves the Cloud Tasks v2 REST API under /v2/projects/<PROJECT_ID>/locations/...`,
      ),
      pretty,
    );

  let response: unknown;
  try {
    const request = buildRequest(route, vars, url.searchParams, body, req.headers['content-type'], json);
    response = options.handlers[route.method](request, { httpMethod: method });
  } catch (err) {
    await options.whenDurable().catch(() => undefined);
    return sendError(res, toEmulatorError(err), pretty);
  }
  try {
    await options.whenDurable();
  } catch (err) {
    return sendError(res, toEmulatorError(err), pretty);
  }
  const message = route.responseType.fromObject(response as object);
  send(res, 200, json.toProto3JSON(message, { numericEnums }) ?? {}, pretty);
}

/** The request message: path variables, then the body, then query parameters (gRPC Transcoding). */
function buildRequest(
  route: Route,
  vars: Record<string, string>,
  query: URLSearchParams,
  body: Buffer,
  contentType: string | undefined,
  json: typeof Proto3Json,
): Request {
  const type = route.requestType;
  let doc: Record<string, unknown> = {};
  if (route.method === 'BufferTask') {
    // google.api.HttpBody: the raw bytes and their Content-Type.
    doc.body = {
      ...(contentType ? { contentType } : {}),
      ...(body.length > 0 ? { data: body.toString('base64') } : {}),
    };
  } else if (route.body) {
    const parsed = parseJson(body);
    if (route.body === '*') doc = normalizeKeys(type, parsed, '') as Record<string, unknown>;
    else {
      const field = type.fields[route.body];
      doc[route.body] = normalizeKeys(field.resolvedType as Protobuf.Type, parsed, route.body);
    }
  } else if (body.length > 0 && body.toString('utf8').trim() !== '' && body.toString('utf8').trim() !== '{}') {
    throw invalidArgument(`Invalid JSON payload received. ${route.method} takes no request body (${route.template})`);
  }
  for (const [key, value] of query) {
    if (SYSTEM_PARAMETERS.has(key)) continue;
    setQueryParameter(type, doc, key, value);
  }
  for (const [field, value] of Object.entries(vars)) setPath(doc, field, value);
  let message: Protobuf.Message;
  try {
    message = json.fromProto3JSON(type, doc as Proto3Json.JSONObject) as Protobuf.Message;
  } catch (err) {
    throw invalidArgument(`Invalid JSON payload received. ${(err as Error).message.replace(/^\w+: /, '')}`);
  }
  return type.toObject(message, OBJECT_OPTIONS) as Request;
}

function parseJson(body: Buffer): Record<string, unknown> {
  const text = body.toString('utf8');
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw invalidArgument(`Invalid JSON payload received. ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw invalidArgument('Invalid JSON payload received. The request body must be a JSON object.');
  return value as Record<string, unknown>;
}

const camel = (s: string): string => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/**
 * Checks every key of a JSON object against the message type (camelCase or the proto's snake_case name), recursively,
 * and returns it with camelCase keys. An unknown key is refused as Google's front end refuses it.
 */
function normalizeKeys(type: Protobuf.Type, value: unknown, at: string): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (WELL_KNOWN_SCALARS.has(type.fullName)) return value;
  if (Array.isArray(value))
    throw invalidArgument(`Invalid JSON payload received. Expected an object at '${at || 'request'}'.`);
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    const name = camel(key);
    const field = type.fields[name];
    if (!field)
      throw invalidArgument(
        `Invalid JSON payload received. Unknown name ${JSON.stringify(key)}${at ? ` at '${at}'` : ''}: Cannot find field.`,
        [{ field: at ? `${at}.${key}` : key, description: `Invalid JSON payload received. Unknown name "${key}"` }],
      );
    field.resolve();
    const sub = field.resolvedType;
    const path = at ? `${at}.${key}` : key;
    if (sub && 'fields' in sub && !field.map)
      out[name] =
        field.repeated && Array.isArray(v)
          ? v.map((e, i) => normalizeKeys(sub as Protobuf.Type, e, `${path}[${i}]`))
          : normalizeKeys(sub as Protobuf.Type, v, path);
    else out[name] = v;
  }
  return out;
}

/** `a.b=value`: sets a (possibly nested, possibly repeated) field from a query parameter. */
function setQueryParameter(type: Protobuf.Type, doc: Record<string, unknown>, key: string, raw: string): void {
  const parts = key.split('.').map(camel);
  let t: Protobuf.Type = type;
  let target = doc;
  for (const [i, part] of parts.entries()) {
    const field = t.fields[part];
    if (!field)
      throw invalidArgument(
        `Invalid JSON payload received. Unknown name ${JSON.stringify(key)}: Cannot bind query parameter. Field '${part}' could not be found in request message.`,
        [{ field: key, description: 'Cannot bind query parameter' }],
      );
    field.resolve();
    const last = i === parts.length - 1;
    const sub = field.resolvedType;
    if (!last) {
      if (!sub || !('fields' in sub))
        throw invalidArgument(`Invalid query parameter "${key}": ${part} is not a message`);
      target =
        (target[part] as Record<string, unknown> | undefined) ?? ((target[part] = {}) as Record<string, unknown>);
      t = sub as Protobuf.Type;
      continue;
    }
    const value = queryValue(field, raw);
    if (field.repeated) {
      const list = (target[part] as unknown[] | undefined) ?? [];
      list.push(value);
      target[part] = list;
    } else target[part] = value;
  }
}

function queryValue(field: Protobuf.Field, raw: string): unknown {
  if (field.type === 'bool') return raw === 'true' || raw === '1';
  if (/^(double|float)$/.test(field.type)) return Number(raw);
  if (field.resolvedType && 'values' in field.resolvedType) return /^\d+$/.test(raw) ? Number(raw) : raw;
  return raw;
}

function setPath(doc: Record<string, unknown>, field: string, value: string): void {
  const parts = field.split('.');
  let target = doc;
  for (const part of parts.slice(0, -1))
    target = (target[part] as Record<string, unknown> | undefined) ?? ((target[part] = {}) as Record<string, unknown>);
  target[parts[parts.length - 1]] = value;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(
          new EmulatorError(
            Code.INVALID_ARGUMENT,
            `Request payload size exceeds the limit: ${MAX_BODY_BYTES} bytes (a Cloud Tasks task is at most 1 MB)`,
          ),
        );
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function toEmulatorError(err: unknown): EmulatorError {
  if (err instanceof EmulatorError) return err;
  console.error('cloud-tasks emulator: internal error', err);
  return new EmulatorError(
    Code.INTERNAL,
    `internal emulator error: ${err instanceof Error ? err.message : String(err)}`,
  );
}

function sendError(res: ServerResponse, err: EmulatorError, pretty: boolean): void {
  const details = detailsJson(err);
  send(
    res,
    httpStatusOf(err.code),
    {
      error: {
        code: httpStatusOf(err.code),
        message: err.message,
        status: codeName(err.code),
        ...(details.length ? { details } : {}),
      },
    },
    pretty,
  );
}

function send(res: ServerResponse, status: number, body: unknown, pretty: boolean): void {
  const text = `${JSON.stringify(body, null, pretty ? 2 : undefined)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': Buffer.byteLength(text),
    vary: 'Origin, X-Origin, Referer',
  });
  res.end(text);
}
