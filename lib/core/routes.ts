/**
 * Pipeline routes: the contract between the stack and its workers. The stack publishes it (a Terraform output and
 * the JSON a worker reads from CLOUD_TASKS_PIPELINE_ROUTES or CLOUD_TASKS_PIPELINE_ROUTES_FILE); the worker SDK and
 * the ledger read everything they need from it (where each step's queue is, which steps follow, how a fan-in joins,
 * the settings every task must carry, the retry budget stall detection waits for), so nothing is hard-coded in a
 * worker. docs/worker.md documents the JSON; docs/runs.md the run model it serves.
 *
 * Plain data and pure functions: no cdktf, no client library. `buildRoutes` makes it from the parts of a pipeline
 * spec (a structural type, so the normalized spec fits as it is); `parseRoutes` / `readRoutesFromEnv` validate it
 * when a worker reads it, with errors naming the variable and the field.
 */
import { readFileSync } from 'node:fs';
import {
  LIMITS,
  SERVICE_DEFAULTS,
  dispatchDeadlineProblems,
  retryConfigProblems,
  type RetryConfig,
} from './rules/cloud-tasks';
import { formatPath, formatProblem, ProblemError, type PathSegment, type Problem } from './problem';
import { databaseIdProblems } from './rules/firestore';
import { ledgerLocationFor } from './ledger-layout';
import {
  JOB_KINDS,
  jobRouteFor,
  jobRouteShapeProblems,
  shardsPerMessage,
  type JobTargetInput,
  type StepJobRoute,
} from './job-route';
import {
  DEFAULT_OAUTH_SCOPE,
  invokerEmailFor,
  oidcAudienceFor,
  queueIdFor,
  queueNameFor,
  stackNameFor,
} from './naming';

/** Inline routes JSON (what the stack output `routes` holds). */
export const ROUTES_ENV = 'CLOUD_TASKS_PIPELINE_ROUTES';
/** A file holding the routes JSON (e.g. a mounted secret or a file baked into the image). */
export const ROUTES_FILE_ENV = 'CLOUD_TASKS_PIPELINE_ROUTES_FILE';
export const ROUTES_VERSION = 1;

/**
 * What runs a step: an HTTP service (its worker answers each task), or a job the step's queue starts through a Google
 * API, a Cloud Run job or a Vertex AI custom job (lib/core/job-route.ts; docs/jobs.md).
 */
export const STEP_KINDS = ['service', ...JOB_KINDS] as const;
export type StepKind = (typeof STEP_KINDS)[number];

/**
 * How a step with parents receives their messages for a run (docs/runs.md, "Joins"):
 * - `all`: ONE task per run, once every parent completed, carrying all their messages (fan-in);
 * - `each`: one task per message a parent emits (fan-out, and today's once-per-delivery behaviour).
 */
export const JOIN_MODES = ['all', 'each'] as const;
export type JoinMode = (typeof JOIN_MODES)[number];

/** The default join: a step with two or more parents runs once per run (`all`); with one parent, once per message. */
export function defaultJoin(parentCount: number): JoinMode {
  return parentCount >= 2 ? 'all' : 'each';
}

/**
 * The default join of a step whose parents are known: as defaultJoin, and also `all` after a job step that runs more
 * than one task per message (its shards are a fan-out: the step after it runs once, after the last shard, with every
 * shard's message; docs/jobs.md).
 */
export function defaultJoinAfter(parents: ReadonlyArray<{ readonly job?: StepJobRoute }>): JoinMode {
  return parents.some((p) => shardsPerMessage(p) > 1) ? 'all' : defaultJoin(parents.length);
}

/** How the queue authenticates its tasks to the step's target; the worker SDK verifies OIDC tokens with it. */
export type StepAuthRoute =
  | { readonly kind: 'oidc'; readonly serviceAccountEmail: string; readonly audience: string }
  | { readonly kind: 'oauth'; readonly serviceAccountEmail: string; readonly scope: string }
  | { readonly kind: 'none' };

/** The queue's retry config with every field resolved (service defaults applied); durations in seconds. */
export type RetryBudget = Required<RetryConfig>;

export interface StepRoute {
  /** Full queue name, `projects/P/locations/L/queues/Q`. */
  readonly queue: string;
  /** The step's target URL, set on every task (the queue's http_target routes it and attaches the token). */
  readonly url: string;
  readonly kind: StepKind;
  /** Steps this step's messages go to. */
  readonly next: readonly string[];
  /** Steps whose messages come here (derived from `next`). */
  readonly parents: readonly string[];
  readonly join: JoinMode;
  readonly auth: StepAuthRoute;
  /** Settings every task created for this step must carry (per task, not on the queue). */
  readonly task: { readonly dispatchDeadlineSeconds: number };
  /** The queue's retry budget: how long Cloud Tasks may keep retrying a task of this step. */
  readonly retry: RetryBudget;
  /** A job step's job (kind `cloudRunJob` or `vertexAI`): absent for a service. */
  readonly job?: StepJobRoute;
}

export interface PipelineRoutes {
  readonly version: typeof ROUTES_VERSION;
  readonly pipeline: string;
  /** `<pipeline>-<environment>`: runs are kept per stack in the ledger. */
  readonly stack: string;
  /** The pipeline's project (queues, trace ids in logs). */
  readonly project: string;
  /** The queues' location. */
  readonly location: string;
  /** Where the run ledger lives: a Firestore (Native mode) database. */
  readonly ledger: { readonly project: string; readonly database: string };
  /** Keyed by step name (in spec order from buildRoutes; Terraform sorts the keys of the stack output). */
  readonly steps: Readonly<Record<string, StepRoute>>;
}

// ------------------------------------------------------------------ building

/** What `buildRoutes` reads from a step: a structural subset of the normalized spec's StepSpec. */
export interface RoutesStepInput {
  readonly name: string;
  readonly next: readonly string[];
  /** @default defaultJoin(number of parents) */
  readonly join?: JoinMode;
  readonly dispatchDeadlineSeconds: number;
  /** Unset fields take the Cloud Tasks service defaults, as the queue does. */
  readonly retry: RetryConfig;
  readonly target: {
    readonly url: string;
    readonly auth: 'oidc' | 'oauth' | 'none';
    readonly audience?: string;
    readonly scope?: string;
  } & JobTargetInput;
}

/** What `buildRoutes` reads from a pipeline: a structural subset of the normalized PipelineSpec. */
export interface RoutesInput {
  readonly project: string;
  readonly region: string;
  readonly environment: string;
  readonly pipeline: { readonly name: string; readonly steps: readonly RoutesStepInput[] };
  /**
   * The ledger database.
   * @default - ledgerLocationFor(input): the pipeline's project, database ledgerDatabaseIdFor(<pipeline>, <environment>)
   */
  readonly ledger?: { readonly project?: string; readonly database?: string };
}

/** The routes of a pipeline, as the stack publishes them. Throws RoutesError when the result breaks a rule. */
export function buildRoutes(input: RoutesInput): PipelineRoutes {
  const identity = { project: input.project, environment: input.environment, pipeline: input.pipeline };
  const parents = parentsOf(input.pipeline.steps);
  const invoker = invokerEmailFor(identity);
  const steps: Record<string, StepRoute> = {};
  const jobs = new Map(input.pipeline.steps.map((s) => [s.name, jobRouteFor(input.project, s.target)]));
  for (const s of input.pipeline.steps) {
    const stepParents = parents.get(s.name) ?? [];
    const auth: StepAuthRoute =
      s.target.auth === 'oidc'
        ? { kind: 'oidc', serviceAccountEmail: invoker, audience: oidcAudienceFor(s.target) }
        : s.target.auth === 'oauth'
          ? { kind: 'oauth', serviceAccountEmail: invoker, scope: s.target.scope ?? DEFAULT_OAUTH_SCOPE }
          : { kind: 'none' };
    const job = jobs.get(s.name);
    steps[s.name] = {
      queue: queueNameFor(input.project, input.region, queueIdFor(identity, s.name)),
      url: s.target.url,
      kind: job?.kind ?? 'service',
      next: [...s.next],
      parents: stepParents,
      join: s.join ?? defaultJoinAfter(stepParents.map((p) => ({ job: jobs.get(p) }))),
      auth,
      task: { dispatchDeadlineSeconds: s.dispatchDeadlineSeconds },
      retry: resolveRetry(s.retry),
      ...(job ? { job } : {}),
    };
  }
  const routes: PipelineRoutes = {
    version: ROUTES_VERSION,
    pipeline: input.pipeline.name,
    stack: stackNameFor(identity),
    project: input.project,
    location: input.region,
    ledger: ledgerLocationFor({ ...identity, ledger: input.ledger }),
    steps,
  };
  return validateRoutes(routes, 'buildRoutes');
}

function resolveRetry(r: RetryConfig): RetryBudget {
  return {
    maxAttempts: r.maxAttempts ?? SERVICE_DEFAULTS.maxAttempts,
    maxRetryDurationSeconds: r.maxRetryDurationSeconds ?? SERVICE_DEFAULTS.maxRetryDurationSeconds,
    minBackoffSeconds: r.minBackoffSeconds ?? SERVICE_DEFAULTS.minBackoffSeconds,
    maxBackoffSeconds: r.maxBackoffSeconds ?? SERVICE_DEFAULTS.maxBackoffSeconds,
    maxDoublings: r.maxDoublings ?? SERVICE_DEFAULTS.maxDoublings,
  };
}

function parentsOf(steps: ReadonlyArray<{ readonly name: string; readonly next: readonly string[] }>) {
  const parents = new Map<string, string[]>();
  for (const s of steps) for (const n of s.next) parents.set(n, [...(parents.get(n) ?? []), s.name]);
  return parents;
}

// ------------------------------------------------------------------ reading and validating

/** Routes that break a rule: every problem, each with its field path in the routes JSON. */
export class RoutesError extends ProblemError {
  constructor(
    /** Where the routes came from: the variable, the file, or the function that built them. */
    readonly source: string,
    problems: readonly Problem[],
  ) {
    super(
      `${source}: ${problems.length === 1 ? 'the pipeline routes break a rule' : `the pipeline routes break ${problems.length} rules`} (docs/worker.md, "Routes"):`,
      problems,
      (p) => `  ${formatProblem(p)}`,
    );
    this.name = 'RoutesError';
  }
}

/**
 * The routes a worker runs with: CLOUD_TASKS_PIPELINE_ROUTES (inline JSON) or CLOUD_TASKS_PIPELINE_ROUTES_FILE (a
 * path). Throws RoutesError naming the variable (and the field) when neither is set, both are, or the value is invalid.
 */
export function readRoutesFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): PipelineRoutes {
  const inline = env[ROUTES_ENV];
  const file = env[ROUTES_FILE_ENV];
  if (inline && file)
    throw new RoutesError(`${ROUTES_ENV} and ${ROUTES_FILE_ENV}`, [
      { path: [], value: undefined, message: 'both are set; set one of them (the inline JSON or a file path)' },
    ]);
  if (inline) return parseRoutes(inline, ROUTES_ENV);
  if (file) {
    let text: string;
    try {
      text = readFile(file);
    } catch (err) {
      throw new RoutesError(`${ROUTES_FILE_ENV}=${file}`, [
        { path: [], value: file, message: `cannot be read: ${(err as Error).message}` },
      ]);
    }
    return parseRoutes(text, `${ROUTES_FILE_ENV}=${file}`);
  }
  throw new RoutesError(ROUTES_ENV, [
    {
      path: [],
      value: undefined,
      message: `is not set: give the worker its pipeline routes, the stack output \`routes\` (inline JSON in ${ROUTES_ENV}, or a file named by ${ROUTES_FILE_ENV}), or pass \`routes\` to createStepHandler`,
    },
  ]);
}

/**
 * `steps.train.next[0]` as path segments. Routes field names are plain JSON names and step names use the spec's narrow
 * alphabet (no dots or brackets), so the dotted form written in this file splits safely.
 */
function routesPath(field: string): PathSegment[] {
  if (field === '') return [];
  return field.split('.').flatMap((part) => {
    const [name, ...indexes] = part.split('[');
    return [...(name ? [name] : []), ...indexes.map((i) => Number(i.replace(']', '')))];
  });
}

/** Parses and validates routes JSON; `source` names where it came from in errors. */
export function parseRoutes(text: string, source: string): PipelineRoutes {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new RoutesError(source, [
      {
        path: [],
        value: undefined,
        message: `is not JSON (${(err as Error).message}); use the stack output \`routes\` as it is`,
      },
    ]);
  }
  return validateRoutes(raw, source);
}

type Raw = Record<string, unknown>;
const isObject = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNonEmptyString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const QUEUE_NAME = /^projects\/([^/]+)\/locations\/([^/]+)\/queues\/([^/]+)$/;

/**
 * Checks routes of unknown origin: the shape, then the rules (Cloud Tasks limits from rules/cloud-tasks.ts, the
 * database id from rules/firestore.ts, a step graph without unknown steps or cycles, parents that match `next`).
 * Returns them typed, or throws RoutesError with every problem.
 */
export function validateRoutes(raw: unknown, source: string): PipelineRoutes {
  const problems: Problem[] = [];
  const add = (field: string, value: unknown, message: string) =>
    problems.push({ path: routesPath(field), value, message });
  if (!isObject(raw)) {
    add('', raw, 'must be a JSON object (the stack output `routes`)');
    throw new RoutesError(source, problems);
  }
  if (raw.version !== ROUTES_VERSION)
    add(
      'version',
      raw.version,
      `${JSON.stringify(raw.version)} is not a routes version this SDK reads (it reads ${ROUTES_VERSION}); deploy the stack and the worker from the same release`,
    );
  for (const f of ['pipeline', 'stack', 'project', 'location'] as const)
    if (!isNonEmptyString(raw[f])) add(f, raw[f], 'must be a non-empty string');
  if (!isObject(raw.ledger)) add('ledger', raw.ledger, 'must be an object { project, database }');
  else {
    if (!isNonEmptyString(raw.ledger.project)) add('ledger.project', raw.ledger.project, 'must be a non-empty string');
    if (typeof raw.ledger.database !== 'string') add('ledger.database', raw.ledger.database, 'must be a string');
    else for (const p of databaseIdProblems(raw.ledger.database)) add('ledger.database', p.value, p.message);
  }
  if (!isObject(raw.steps) || Object.keys(raw.steps).length === 0) {
    add('steps', raw.steps, 'must be an object with one entry per step');
    throw new RoutesError(source, problems);
  }
  const names = Object.keys(raw.steps);
  for (const name of names) stepProblems(name, raw.steps[name], names, add);
  if (problems.length === 0) graphProblems(raw.steps as Record<string, StepRoute>, add);
  if (problems.length) throw new RoutesError(source, problems);
  return raw as unknown as PipelineRoutes;
}

function stepProblems(
  name: string,
  step: unknown,
  names: readonly string[],
  add: (field: string, value: unknown, message: string) => void,
): void {
  const at = `steps.${name}`;
  if (!/^[a-z](?:[a-z0-9-]*[a-z0-9])?$/.test(name))
    add(at, name, `"${name}" is not a step name (lower-case letters, digits and hyphens)`);
  if (!isObject(step)) return add(at, step, 'must be an object');
  if (typeof step.queue !== 'string' || !QUEUE_NAME.test(step.queue))
    add(`${at}.queue`, step.queue, 'must be a full queue name, projects/<project>/locations/<location>/queues/<queue>');
  if (typeof step.url !== 'string' || !/^https?:\/\//.test(step.url) || step.url.length > LIMITS.maxUrlLength)
    add(
      `${at}.url`,
      step.url,
      `must be an http(s) URL of at most ${LIMITS.maxUrlLength} characters (the step's target)`,
    );
  if (!(STEP_KINDS as readonly unknown[]).includes(step.kind))
    add(
      `${at}.kind`,
      step.kind,
      `${JSON.stringify(step.kind)} is not a step kind this SDK runs (${STEP_KINDS.join(', ')})`,
    );
  for (const p of jobRouteShapeProblems(step.kind, step.job)) add(`${at}.${p.field}`, p.value, p.message);
  if (!(JOIN_MODES as readonly unknown[]).includes(step.join))
    add(
      `${at}.join`,
      step.join,
      `${JSON.stringify(step.join)} is not a join mode: use "all" (one task per run once every parent completed) or "each" (one task per message)`,
    );
  for (const list of ['next', 'parents'] as const) {
    const v = step[list];
    if (!Array.isArray(v) || !v.every((n) => typeof n === 'string')) {
      add(`${at}.${list}`, v, 'must be a list of step names');
      continue;
    }
    v.forEach((n, i) => {
      if (!names.includes(n))
        add(`${at}.${list}[${i}]`, n, `"${n}" is not a step of these routes (steps: ${names.join(', ')})`);
    });
  }
  const auth = step.auth;
  if (!isObject(auth) || !['oidc', 'oauth', 'none'].includes(auth.kind as string))
    add(
      `${at}.auth`,
      auth,
      'must be { kind: "oidc", serviceAccountEmail, audience }, { kind: "oauth", serviceAccountEmail, scope } or { kind: "none" }',
    );
  else if (auth.kind === 'oidc') {
    if (!isNonEmptyString(auth.serviceAccountEmail))
      add(`${at}.auth.serviceAccountEmail`, auth.serviceAccountEmail, 'must be the invoker e-mail');
    if (!isNonEmptyString(auth.audience))
      add(`${at}.auth.audience`, auth.audience, 'must be the token audience the worker accepts');
  } else if (auth.kind === 'oauth') {
    if (!isNonEmptyString(auth.serviceAccountEmail))
      add(`${at}.auth.serviceAccountEmail`, auth.serviceAccountEmail, 'must be the invoker e-mail');
    if (!isNonEmptyString(auth.scope)) add(`${at}.auth.scope`, auth.scope, 'must be an OAuth scope');
  }
  const task = step.task;
  if (!isObject(task) || typeof task.dispatchDeadlineSeconds !== 'number')
    add(
      `${at}.task.dispatchDeadlineSeconds`,
      isObject(task) ? task.dispatchDeadlineSeconds : task,
      'must be a number of seconds',
    );
  else
    for (const p of dispatchDeadlineProblems(task.dispatchDeadlineSeconds, ['dispatchDeadlineSeconds']))
      add(`${at}.task.${formatPath(p.path)}`, p.value, p.message);
  const retry = step.retry;
  const retryFields = [
    'maxAttempts',
    'maxRetryDurationSeconds',
    'minBackoffSeconds',
    'maxBackoffSeconds',
    'maxDoublings',
  ] as const;
  if (!isObject(retry)) add(`${at}.retry`, retry, `must be an object with ${retryFields.join(', ')}`);
  else {
    const missing = retryFields.filter((f) => typeof retry[f] !== 'number');
    for (const f of missing) add(`${at}.retry.${f}`, retry[f], 'must be a number (the resolved queue setting)');
    if (missing.length === 0)
      for (const p of retryConfigProblems(retry as RetryConfig))
        add(`${at}.retry.${formatPath(p.path)}`, p.value, p.message);
  }
}

function graphProblems(
  steps: Record<string, StepRoute>,
  add: (field: string, value: unknown, message: string) => void,
): void {
  const derived = parentsOf(Object.entries(steps).map(([name, s]) => ({ name, next: s.next })));
  for (const [name, s] of Object.entries(steps)) {
    const expected = derived.get(name) ?? [];
    if ([...expected].sort().join(',') !== [...s.parents].sort().join(','))
      add(
        `steps.${name}.parents`,
        s.parents,
        `must list the steps whose next includes "${name}": [${expected.join(', ')}]`,
      );
  }
  const cycle = findCycle(steps);
  if (cycle)
    add(
      `steps.${cycle[0]}.next`,
      cycle,
      `the steps form a cycle (${cycle.join(' -> ')}); a pipeline is a DAG, so a run could never finish`,
    );
}

function findCycle(steps: Readonly<Record<string, { readonly next: readonly string[] }>>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === 'done') return undefined;
    if (state.get(n) === 'visiting') return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, 'visiting');
    stack.push(n);
    for (const m of steps[n]?.next ?? []) {
      const c = visit(m);
      if (c) return c;
    }
    stack.pop();
    state.set(n, 'done');
    return undefined;
  };
  for (const n of Object.keys(steps)) {
    const c = visit(n);
    if (c) return c;
  }
  return undefined;
}

// ------------------------------------------------------------------ the graph of one run

/**
 * The steps of a run that starts at `startStep`: those reachable from it, in topological order (parents first).
 * A run's steps are only these; a parent outside them is not waited for (a run started at `train` does not wait for
 * `ingest`).
 */
export function runSteps(routes: PipelineRoutes, startStep: string): string[] {
  // Breadth-first through `next` (lists keep their order, whereas Terraform sorts the keys of the routes output).
  const reachable = new Set<string>([startStep]);
  for (const s of reachable) for (const n of routes.steps[s]?.next ?? []) reachable.add(n);
  // Kahn's algorithm over the reachable subgraph, ties in that order, so the order is stable.
  const order: string[] = [];
  const pending = new Map([...reachable].map((s) => [s, runParents(routes, reachable, s).length]));
  const names = [...reachable].filter((s) => routes.steps[s]);
  while (order.length < names.length) {
    const ready = names.find((s) => pending.get(s) === 0 && !order.includes(s));
    if (ready === undefined) break; // unreachable for validated routes (no cycles)
    order.push(ready);
    for (const n of routes.steps[ready].next) pending.set(n, (pending.get(n) ?? 1) - 1);
  }
  return order;
}

/** The parents of `step` within a run: its parents that are steps of the run. */
export function runParents(
  routes: PipelineRoutes,
  stepsOfRun: ReadonlySet<string> | readonly string[],
  step: string,
): string[] {
  const inRun = stepsOfRun instanceof Set ? stepsOfRun : new Set(stepsOfRun as readonly string[]);
  return (routes.steps[step]?.parents ?? []).filter((p) => inRun.has(p));
}

/** The steps with no parents: where a run can start without naming a step. */
export function rootSteps(routes: PipelineRoutes): string[] {
  return Object.entries(routes.steps)
    .filter(([, s]) => s.parents.length === 0)
    .map(([name]) => name);
}

/** The step whose queue id (the X-CloudTasks-QueueName header) or full queue name is `queue`. */
export function stepOfQueue(routes: PipelineRoutes, queue: string): string | undefined {
  for (const [name, s] of Object.entries(routes.steps)) {
    if (s.queue === queue) return name;
    const m = QUEUE_NAME.exec(s.queue);
    if (m && m[3] === queue) return name;
  }
  return undefined;
}
