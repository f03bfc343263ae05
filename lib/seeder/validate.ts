/**
 * Re-validation of a seed manifest at deploy time. Synth validated the spec already, but a deploy can run weeks later
 * from a copied stack directory, with a hand-edited or truncated manifest, or with schedule times that have drifted.
 * Every rule comes from lib/core/rules/cloud-tasks.ts; this file only adds the manifest's shape and field paths.
 *
 * All problems are collected before anything is reported, so one run shows everything to fix.
 */
import type { ValidateFunction } from 'ajv';
import {
  HTTP_METHODS,
  type HttpMethod,
  LIMITS,
  bodyMethodProblems,
  dispatchDeadlineProblems,
  headerProblems,
  httpRequestSizeBytes,
  queueIdProblems,
  scheduleTimeTextProblems,
  targetUrlProblems,
  taskIdProblems,
  taskSizeProblems,
} from '../core/rules/cloud-tasks';
import { projectIdProblems } from '../core/rules/resource-manager';
import { databaseIdProblems } from '../core/rules/firestore';
import { MANIFEST_VERSION, type ManifestHttpRequest, type ManifestTask, type SeedManifest } from '../core/manifest';
import { formatProblems as formatProblemLines, under, type Problem } from '../core/problem';
import { schemaProblems } from '../core/schema-problems';
import { taskNameFor } from './requests';

export type ManifestValidation =
  | { readonly ok: true; readonly manifest: SeedManifest }
  | { readonly ok: false; readonly problems: readonly Problem[] };

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
    ledger: {
      type: 'object',
      additionalProperties: false,
      required: ['pipeline', 'project', 'database'],
      properties: { pipeline: nonEmpty, project: nonEmpty, database: nonEmpty },
    },
    tasks: { type: 'array' },
    secretsAllowed: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['rule', 'reason'],
        properties: { rule: nonEmpty, reason: nonEmpty },
      },
    },
  },
} as const;

/** ajv options of both validators (also used by scripts/seeder-bundle.ts to precompile them). */
/** verbose: errors carry their schema, so messages can list the allowed keys. */
export const AJV_OPTIONS = { allErrors: true, verbose: true, strict: true } as const;

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
        { path: [], message: `is not valid JSON (${jsonErrorWithoutText(err)}); re-run synth to regenerate it` },
      ],
    };
  }
  return validateManifest(raw, now);
}

/**
 * V8 quotes the text around a JSON syntax error (`Unexpected token 'g', "{"a": ghp_..."... is not valid JSON`): that
 * text may be a payload or a secret, so only the error itself is kept.
 */
function jsonErrorWithoutText(err: unknown): string {
  return (err as Error).message.replace(/,\s*(?:\.\.\.)?".*"(?:\.\.\.)? is not valid JSON$/s, '');
}

/** The manifest's shape (its JSON Schema) and every Cloud Tasks rule on each task, all problems at once. */
export function validateManifest(raw: unknown, now: Date): ManifestValidation {
  const { manifest: checkManifest, task: checkTask } = validators();
  // The version decides how everything else is read, so a mismatch is the only problem worth reporting.
  const version = (raw as { version?: unknown } | null)?.version;
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw) && version !== MANIFEST_VERSION) {
    return {
      ok: false,
      problems: [
        {
          path: ['version'],
          value: version,
          message: `${JSON.stringify(version)} is not a manifest version this seeder reads (it reads version ${MANIFEST_VERSION}); synthesize the stack again with this version of the project`,
        },
      ],
    };
  }
  if (!checkManifest(raw)) return { ok: false, problems: schemaProblems(checkManifest.errors ?? [], raw, ROOT) };

  const manifest = raw as SeedManifest;
  const problems: Problem[] = [...projectIdProblems(manifest.project)];
  if (manifest.ledger) {
    problems.push(...projectIdProblems(manifest.ledger.project, ['ledger', 'project']));
    problems.push(...databaseIdProblems(manifest.ledger.database, ['ledger', 'database']));
  }
  if (!LIMITS.locationPattern.test(manifest.location))
    problems.push({
      path: ['location'],
      value: manifest.location,
      message: `"${manifest.location}" is not a Cloud Tasks location such as us-central1`,
    });

  const seenNames = new Map<string, number>();
  manifest.tasks.forEach((task: unknown, i) => {
    const at = ['tasks', i];
    if (!checkTask(task)) problems.push(...under(at, schemaProblems(checkTask.errors ?? [], task)));
    // The rules run on whatever fields have the right type, so a shape error does not hide the other problems.
    if (typeof task !== 'object' || task === null || Array.isArray(task)) return;
    const t = task as Loose<ManifestTask>;
    problems.push(...under(at, taskProblems(t, manifest, now)));
    if (typeof t.queue !== 'string' || typeof t.taskId !== 'string') return;
    const name = taskNameFor({ queue: t.queue, taskId: t.taskId });
    const first = seenNames.get(name);
    if (first === undefined) seenNames.set(name, i);
    else
      problems.push({
        path: [...at, 'taskId'],
        value: t.taskId,
        message: `"${t.taskId}" is also the id of tasks[${first}] in the same queue; Cloud Tasks would create only one of them`,
      });
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, manifest };
}

const ROOT = { rootMessage: () => 'a seed manifest is a JSON object with version, stack, project, location and tasks' };

/** A task as read from JSON: any field may be missing or of the wrong type (ajv reports those). */
type Loose<T> = { readonly [K in keyof T]?: unknown };

const QUEUE_NAME = /^projects\/([^/]+)\/locations\/([^/]+)\/queues\/([^/]*)$/;
const isString = (v: unknown): v is string => typeof v === 'string';
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The Cloud Tasks rules for one task, on the fields that have the right type; paths are relative to the task. */
function taskProblems(task: Loose<ManifestTask>, manifest: SeedManifest, now: Date): Problem[] {
  const out: Problem[] = [];
  if (isString(task.queue)) {
    const q = QUEUE_NAME.exec(task.queue);
    if (!q) {
      out.push({
        path: ['queue'],
        value: task.queue,
        message: `"${task.queue}" is not a queue name of the form projects/{project}/locations/{location}/queues/{queueId}`,
      });
    } else {
      if (q[1] !== manifest.project || q[2] !== manifest.location)
        out.push({
          path: ['queue'],
          value: task.queue,
          message: `"${task.queue}" is not in the manifest's project and location (projects/${manifest.project}/locations/${manifest.location})`,
        });
      out.push(...queueIdProblems(q[3], ['queue']));
    }
  }
  if (isString(task.taskId)) out.push(...taskIdProblems(task.taskId, ['taskId']));
  if (isString(task.scheduleTime)) out.push(...scheduleTimeTextProblems(task.scheduleTime, now));
  if (typeof task.dispatchDeadlineSeconds === 'number')
    out.push(...dispatchDeadlineProblems(task.dispatchDeadlineSeconds, ['dispatchDeadlineSeconds']));

  if (!isObject(task.httpRequest)) return out;
  const r = task.httpRequest as Loose<ManifestHttpRequest>;
  const url = isString(r.url) ? r.url : '';
  const headers =
    isObject(r.headers) && Object.values(r.headers).every(isString) ? (r.headers as Record<string, string>) : {};
  const body = isString(r.body) ? r.body : undefined;
  const request: Problem[] = [];
  if (isString(r.url)) request.push(...targetUrlProblems(url));
  request.push(...headerProblems(headers));
  if (body !== undefined && isString(r.httpMethod) && HTTP_METHODS.includes(r.httpMethod as HttpMethod))
    request.push(...bodyMethodProblems(r.httpMethod as HttpMethod, Buffer.byteLength(body)));
  out.push(...under('httpRequest', request));
  if (r.oidcToken !== undefined && r.oauthToken !== undefined)
    out.push({
      path: ['httpRequest'],
      value: 'oidcToken+oauthToken',
      message: 'has both oidcToken and oauthToken; Cloud Tasks takes at most one authorization token per request',
    });
  out.push(...taskSizeProblems(httpRequestSizeBytes(url, headers, body), ['httpRequest']));
  return out;
}

/** `seed-manifest.json: tasks[3].httpRequest.url: "http://x" must use https ...`: one line per problem, at most `max`. */
export function formatProblems(file: string, problems: readonly Problem[], max = 50): string {
  return formatProblemLines(
    problems.map((p) => ({ ...p, file })),
    { max },
  );
}
