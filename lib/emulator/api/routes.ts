/**
 * The REST route table, read from the `google.api.http` options of the services (google/api/http.proto, "gRPC
 * Transcoding"): `get: "/v2/{name=projects/*\/locations/*\/queues/*}"` becomes a matcher for the HTTP method and
 * path that yields `{ name: "projects/p/locations/l/queues/q" }`, plus which part of the request the body holds.
 */
import type * as Protobuf from 'protobufjs';

export interface Route {
  /** The method's proto name, e.g. `CreateTask`. */
  readonly method: string;
  /** HTTP method, or `*` for any (BufferTask: "Any arbitrary HTTP request ... will be wrapped as a Task"). */
  readonly httpMethod: string;
  /** The http rule's `body`: `*` (the whole request), a field name, or undefined (no body: query parameters only). */
  readonly body?: string;
  /** The path template, for messages. */
  readonly template: string;
  readonly requestType: Protobuf.Type;
  readonly responseType: Protobuf.Type;
  /** Path variables (field paths, camelCase) from a matching path, or undefined. */
  match(path: string): Record<string, string> | undefined;
}

const HTTP_VERBS = ['get', 'post', 'put', 'patch', 'delete'] as const;
const camel = (s: string): string => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** Compiles a path template into a regular expression and the field path of each variable. */
export function compileTemplate(template: string): { regex: RegExp; fields: string[] } {
  const fields: string[] = [];
  let source = '';
  let i = 0;
  while (i < template.length) {
    const open = template.indexOf('{', i);
    if (open < 0) {
      source += escape(template.slice(i));
      break;
    }
    source += escape(template.slice(i, open));
    const close = template.indexOf('}', open);
    const [field, pattern = '*'] = template.slice(open + 1, close).split('=');
    fields.push(field.split('.').map(camel).join('.'));
    source += `(${pattern
      .split('/')
      .map((seg) => (seg === '**' ? '.+' : seg === '*' ? '[^/]+' : escape(seg)))
      .join('/')})`;
    i = close + 1;
  }
  return { regex: new RegExp(`^${source}$`), fields };
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function route(
  method: Protobuf.Method,
  httpMethod: string,
  template: string,
  body: string | undefined,
  regexOverride?: { regex: RegExp; fields: string[] },
): Route {
  const { regex, fields } = regexOverride ?? compileTemplate(template);
  return {
    method: method.name,
    httpMethod,
    ...(body ? { body: body === '*' ? '*' : camel(body) } : {}),
    template,
    requestType: method.resolvedRequestType!,
    responseType: method.resolvedResponseType!,
    match(path) {
      const m = regex.exec(path);
      if (!m) return undefined;
      const vars: Record<string, string> = {};
      fields.forEach((f, k) => {
        vars[f] = decodeURIComponent(m[k + 1] ?? '');
      });
      return vars;
    },
  };
}

/** Every route of the services, in declaration order. */
export function routeTable(services: readonly Protobuf.Service[]): Route[] {
  const routes: Route[] = [];
  for (const service of services)
    for (const method of service.methodsArray) {
      method.resolve();
      const options = method.options ?? {};
      const body = options['(google.api.http).body'] as string | undefined;
      for (const verb of HTTP_VERBS) {
        const template = options[`(google.api.http).${verb}`] as string | undefined;
        if (!template) continue;
        if (method.name === 'BufferTask') {
          // REST v2: tasks/{task_id}:buffer, tasks:buffer (a generated id), and tasks/:buffer (what gcloud 528 sends
          // without --task-id); any HTTP method.
          const { regex } = compileTemplate(template.replace('/tasks/{task_id}:buffer', ''));
          const prefix = regex.source.slice(1, -1);
          routes.push(
            route(method, '*', template, body, {
              regex: new RegExp(`^${prefix}/tasks(?:/([^/]*))?:buffer$`),
              fields: ['queue', 'taskId'],
            }),
          );
        } else routes.push(route(method, verb.toUpperCase(), template, body));
      }
    }
  return routes;
}
