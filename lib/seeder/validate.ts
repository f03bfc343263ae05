/**
 * Re-validation of a seed manifest at deploy time. Synth validated the spec already, but a deploy can run weeks later
 * from a copied stack directory, with a hand-edited or truncated manifest, or with schedule times that have drifted.
 * Every rule comes from lib/core/rules/cloud-tasks.ts; this file only adds the manifest's shape and field paths.
 *
 * All problems are collected before anything is reported, so one run shows everything to fix.
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import {
  HTTP_METHODS,
  type HttpMethod,
  LIMITS,
  bodyMethodProblems,
  type Problem,
  dispatchDeadlineProblems,
  headerProblems,
  httpRequestSizeBytes,
  queueIdProblems,
  scheduleTimeProblems,
  targetUrlProblems,
  taskIdProblems,
  taskSizeProblems,
} from '../core/rules/cloud-tasks';
import { MANIFEST_VERSION, type ManifestHttpRequest, type ManifestTask, type SeedManifest } from '../core/manifest';
import { isRfc3339, taskNameFor } from './requests';

/** One problem, with its path in the manifest (`tasks[3].httpRequest.url`). */
export interface ManifestProblem {
  readonly path: string;
  readonly message: string;
}

export type ManifestValidation =
  | { readonly ok: true; readonly manifest: SeedManifest }
  | { readonly ok: false; readonly problems: readonly ManifestProblem[] };

const nonEmpty = { type: 'string', minLength: 1 } as const;

export const taskSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['step', 'seedId', 'queue', 'taskId', 'dispatchDeadlineSeconds', 'httpRequest'],
  properties: {
    step: nonEmpty,
    seedId: nonEmpty,
    queue: nonEmpty,
    taskId: { type: 'string' },
    scheduleTime: { type: 'string' },
    dispatchDeadlineSeconds: { type: 'integer' },
    httpRequest: {
      type: 'object',
      additionalProperties: false,
      required: ['url', 'httpMethod', 'headers'],
      properties: {
        url: { type: 'string' },
        httpMethod: { enum: [...HTTP_METHODS] },
        headers: { type: 'object', additionalProperties: { type: 'string' } },
        body: { type: 'string' },
        oidcToken: {
          type: 'object',
          additionalProperties: false,
          required: ['serviceAccountEmail', 'audience'],
          properties: { serviceAccountEmail: nonEmpty, audience: nonEmpty },
        },
        oauthToken: {
          type: 'object',
          additionalProperties: false,
          required: ['serviceAccountEmail', 'scope'],
          properties: { serviceAccountEmail: nonEmpty, scope: nonEmpty },
        },
      },
    },
  },
} as const;

// Tasks are checked one by one (below) so that a malformed task does not hide the rule problems of the others.
export const manifestSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['version', 'stack', 'project', 'location', 'tasks'],
  properties: {
    version: { type: 'integer' },
    stack: nonEmpty,
    project: { type: 'string' },
    location: { type: 'string' },
    tasks: { type: 'array' },
  },
} as const;

/** ajv options of both validators (also used by scripts/seeder-bundle.ts to precompile them). */
export const AJV_OPTIONS = { allErrors: true, strict: true } as const;

/**
 * The module scripts/seeder-bundle.ts aliases to the validators it compiled ahead of time (ajv standalone code) from the
 * schemas above, in the same build: the bundled seeder neither loads ajv nor compiles schemas at start (~60 ms of a
 * 1,000-task run). It exists only inside the bundle; from the repository the schemas are compiled below.
 */
export const PRECOMPILED_VALIDATORS = 'seeder-precompiled-manifest-validators';

let compiled: { manifest: ValidateFunction; task: ValidateFunction } | undefined;
function validators() {
  if (!compiled) compiled = precompiled() ?? compile();
  return compiled;
}

function precompiled(): typeof compiled {
  try {
    // A literal require, so that esbuild follows the alias; outside the bundle it throws MODULE_NOT_FOUND.
    return require('seeder-precompiled-manifest-validators') as typeof compiled;
  } catch {
    return undefined;
  }
}

function compile(): NonNullable<typeof compiled> {
  // Loaded here only: the bundle never needs ajv itself.
  const Ajv = (require('ajv') as typeof import('ajv')).default;
  const ajv = new Ajv(AJV_OPTIONS);
  return { manifest: ajv.compile(manifestSchema), task: ajv.compile(taskSchema) };
}

/** Parses and validates manifest text. `now` decides how far ahead a schedule time is (injectable for tests). */
export function parseManifest(text: string, now: Date): ManifestValidation {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return {
      ok: false,
      problems: [
        { path: '(file)', message: `is not valid JSON (${(err as Error).message}); re-run synth to regenerate it` },
      ],
    };
  }
  return validateManifest(raw, now);
}

export function validateManifest(raw: unknown, now: Date): ManifestValidation {
  const { manifest: checkManifest, task: checkTask } = validators();
  // The version decides how everything else is read, so a mismatch is the only problem worth reporting.
  const version = (raw as { version?: unknown } | null)?.version;
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw) && version !== MANIFEST_VERSION) {
    return {
      ok: false,
      problems: [
        {
          path: 'version',
          message: `${JSON.stringify(version)} is not a manifest version this seeder reads (it reads version ${MANIFEST_VERSION}); synthesize the stack again with this version of the project`,
        },
      ],
    };
  }
  if (!checkManifest(raw)) return { ok: false, problems: ajvProblems(checkManifest.errors ?? [], '', raw) };

  const manifest = raw as SeedManifest;
  const problems: ManifestProblem[] = [];
  if (!LIMITS.projectIdPattern.test(manifest.project))
    problems.push({
      path: 'project',
      message: `"${manifest.project}" is not a valid Google Cloud project id (6-30 lower-case letters, digits, hyphens)`,
    });
  if (!LIMITS.locationPattern.test(manifest.location))
    problems.push({
      path: 'location',
      message: `"${manifest.location}" is not a Cloud Tasks location such as us-central1`,
    });

  const seenNames = new Map<string, number>();
  manifest.tasks.forEach((task: unknown, i) => {
    const at = `tasks[${i}]`;
    if (!checkTask(task)) problems.push(...ajvProblems(checkTask.errors ?? [], at, task));
    // The rules run on whatever fields have the right type, so a shape error does not hide the other problems.
    if (typeof task !== 'object' || task === null || Array.isArray(task)) return;
    const t = task as Loose<ManifestTask>;
    for (const p of taskProblems(t, manifest, now)) problems.push({ path: `${at}.${p.field}`, message: p.message });
    if (typeof t.queue !== 'string' || typeof t.taskId !== 'string') return;
    const name = taskNameFor({ queue: t.queue, taskId: t.taskId });
    const first = seenNames.get(name);
    if (first === undefined) seenNames.set(name, i);
    else
      problems.push({
        path: `${at}.taskId`,
        message: `"${t.taskId}" is also the id of tasks[${first}] in the same queue; Cloud Tasks would create only one of them`,
      });
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, manifest };
}

/** A task as read from JSON: any field may be missing or of the wrong type (ajv reports those). */
type Loose<T> = { readonly [K in keyof T]?: unknown };

const QUEUE_NAME = /^projects\/([^/]+)\/locations\/([^/]+)\/queues\/([^/]*)$/;
const isString = (v: unknown): v is string => typeof v === 'string';
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The Cloud Tasks rules for one task, on the fields that have the right type; fields are relative to the task. */
function taskProblems(task: Loose<ManifestTask>, manifest: SeedManifest, now: Date): Problem[] {
  const out: Problem[] = [];
  if (isString(task.queue)) {
    const q = QUEUE_NAME.exec(task.queue);
    if (!q) {
      out.push({
        field: 'queue',
        value: task.queue,
        message: `"${task.queue}" is not a queue name of the form projects/{project}/locations/{location}/queues/{queueId}`,
      });
    } else {
      if (q[1] !== manifest.project || q[2] !== manifest.location)
        out.push({
          field: 'queue',
          value: task.queue,
          message: `"${task.queue}" is not in the manifest's project and location (projects/${manifest.project}/locations/${manifest.location})`,
        });
      out.push(...queueIdProblems(q[3], 'queue'));
    }
  }
  if (isString(task.taskId)) out.push(...taskIdProblems(task.taskId, 'taskId'));

  if (isString(task.scheduleTime)) {
    if (!isRfc3339(task.scheduleTime))
      out.push({
        field: 'scheduleTime',
        value: task.scheduleTime,
        message: `"${task.scheduleTime}" is not an RFC 3339 timestamp such as 2025-01-31T12:00:00Z`,
      });
    // A time in the past is fine: Cloud Tasks dispatches the task at once (task.proto schedule_time).
    else out.push(...scheduleTimeProblems(new Date(task.scheduleTime), now, 'scheduleTime'));
  }
  if (typeof task.dispatchDeadlineSeconds === 'number')
    out.push(...dispatchDeadlineProblems(task.dispatchDeadlineSeconds, 'dispatchDeadlineSeconds'));

  if (!isObject(task.httpRequest)) return out;
  const r = task.httpRequest as Loose<ManifestHttpRequest>;
  const url = isString(r.url) ? r.url : '';
  const headers =
    isObject(r.headers) && Object.values(r.headers).every(isString) ? (r.headers as Record<string, string>) : {};
  const body = isString(r.body) ? r.body : undefined;
  if (isString(r.url)) out.push(...targetUrlProblems(url, 'httpRequest.url'));
  out.push(...headerProblems(headers, 'httpRequest.headers'));
  if (body !== undefined && isString(r.httpMethod) && HTTP_METHODS.includes(r.httpMethod as HttpMethod))
    out.push(...bodyMethodProblems(r.httpMethod as HttpMethod, Buffer.byteLength(body), 'httpRequest.body'));
  if (r.oidcToken !== undefined && r.oauthToken !== undefined)
    out.push({
      field: 'httpRequest',
      value: 'oidcToken+oauthToken',
      message: 'has both oidcToken and oauthToken; Cloud Tasks takes at most one authorization token per request',
    });
  out.push(...taskSizeProblems(httpRequestSizeBytes(url, headers, body), 'httpRequest'));
  return out;
}

/** Ajv's JSON-pointer errors as manifest paths, with the value and what was expected. */
function ajvProblems(errors: readonly ErrorObject[], prefix: string, root: unknown): ManifestProblem[] {
  const join = (a: string, b: string) => (a === '' ? b : b.startsWith('[') ? `${a}${b}` : `${a}.${b}`);
  return errors.map((e) => {
    const rel = e.instancePath
      .split('/')
      .slice(1)
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
      .map((s) => (/^\d+$/.test(s) ? `[${s}]` : s))
      .reduce(join, '');
    const here = rel === '' ? prefix : join(prefix, rel);
    const value = valueAt(root, e.instancePath);
    switch (e.keyword) {
      case 'required':
        return {
          path: join(here, String(e.params.missingProperty)),
          message: 'is missing; the seed manifest requires it',
        };
      case 'additionalProperties':
        return {
          path: join(here, String(e.params.additionalProperty)),
          message: 'is not a field of the seed manifest (misspelt, or written by a newer version)',
        };
      case 'enum':
        return {
          path: here || '(root)',
          message: `${show(value)} is not one of ${(e.params.allowedValues as unknown[]).join(', ')}`,
        };
      case 'minLength':
        return { path: here || '(root)', message: 'must not be empty' };
      default:
        return { path: here || '(root)', message: `${show(value)} ${e.message ?? 'is invalid'}` };
    }
  });
}

function valueAt(root: unknown, pointer: string): unknown {
  let v: unknown = root;
  for (const part of pointer.split('/').slice(1))
    v = (v as Record<string, unknown> | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  return v;
}

function show(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 60)}...` : s;
}

/** `seed-manifest.json: tasks[3].httpRequest.url: "http://x" must use https ...` — one line per problem. */
export function formatProblems(file: string, problems: readonly ManifestProblem[], max = 50): string {
  const lines = problems.slice(0, max).map((p) => `${file}: ${p.path}: ${p.message}`);
  if (problems.length > max) lines.push(`... and ${problems.length - max} more problems`);
  return lines.join('\n');
}
