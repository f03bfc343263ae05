/**
 * Semantic rules for a normalized PipelineSpec. Every Cloud Tasks limit comes from lib/core/rules/cloud-tasks.ts; this
 * file only maps the model to those checks and reports spec field paths (`pipeline.steps[1].retry.minBackoff`, the
 * names users write, not the model's `minBackoffSeconds`).
 *
 * No YAML or schema here: PipelineStack runs this on specs built in TypeScript, so both paths get the same rules.
 */
import {
  LIMITS,
  HTTP_METHODS,
  METHODS_WITH_BODY,
  SERVICE_DEFAULTS,
  dispatchDeadlineProblems,
  headerProblems,
  httpRequestSizeBytes,
  isGoogleApisHost,
  queueIdProblems,
  rateLimitProblems,
  retryConfigProblems,
  samplingRatioProblems,
  scheduleTimeProblems,
  targetUrlProblems,
  taskIdProblems,
  taskSizeProblems,
  type Problem,
} from '../core/rules/cloud-tasks';
import {
  CLOUD_RUN_SERVICE_PATTERN,
  EMAIL_PATTERN,
  GCS_BUCKET_PATTERN,
  IAM_MEMBER_FORMAT_HINT,
  IAM_MEMBER_PATTERN,
  IAM_MEMBER_TYPES,
  LABEL_KEY_PATTERN,
  LABEL_VALUE_PATTERN,
  MAX_LABELS,
  NAME_FORMAT_HINT,
  NAME_PATTERN,
  NOTIFICATION_CHANNEL_PATTERN,
  isLoopbackHost,
  parseRfc3339,
} from './formats';
import { preview, toSpecProblem, type PathProblem, type PathSegment, type SpecProblem } from '../core/problem';
import { type PipelineSpec, type StepSpec } from './types';
import { TASK_ID_PREFIX_LENGTH, queueIdFor, queueNameFor, taskIdFor } from '../core/naming';

export interface ValidateOptions {
  /** The clock scheduleTime is checked against (injectable for tests and for synth of a fixed date). */
  readonly now: Date;
}

/** Every rule broken by a normalized spec, in spec order; empty when the spec is valid. */
export function pipelineProblems(spec: PipelineSpec, opts: ValidateOptions): SpecProblem[] {
  return pipelinePathProblems(spec, opts).map((p) => toSpecProblem(p));
}

/** The model field names (seconds) -> the spec field names (durations) users write. */
const RETRY_FIELDS: Record<string, string> = {
  maxAttempts: 'maxAttempts',
  minBackoffSeconds: 'minBackoff',
  maxBackoffSeconds: 'maxBackoff',
  maxDoublings: 'maxDoublings',
  maxRetryDurationSeconds: 'maxRetryDuration',
};

/** Same as pipelineProblems, with paths as segments and the inputs each rule read (for the loader). */
export function pipelinePathProblems(spec: PipelineSpec, opts: ValidateOptions): PathProblem[] {
  const out: PathProblem[] = [];
  const add = (path: PathSegment[], value: unknown, message: string, inputs?: PathSegment[][]): void => {
    out.push(inputs ? { path, value, message, inputs } : { path, value, message });
  };
  /** A rules.ts Problem, placed under `base` (its `field` may be dotted, e.g. `headers.Host`). */
  const addRule = (
    base: PathSegment[],
    p: Problem,
    field: PathSegment[] = fieldSegments(p.field),
    inputs?: PathSegment[][],
  ): void => add([...base, ...field], p.value, p.message, inputs);

  const named = (path: PathSegment[], value: string, what: string): void => {
    if (!NAME_PATTERN.test(value))
      add(path, value, `${JSON.stringify(value)} is not a valid ${what}: ${NAME_FORMAT_HINT}`);
  };

  // --- Where the pipeline lives ---
  if (!LIMITS.projectIdPattern.test(spec.project))
    add(
      ['project'],
      spec.project,
      `${JSON.stringify(spec.project)} is not a valid Google Cloud project id: 6-30 lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen`,
    );
  if (!LIMITS.locationPattern.test(spec.region))
    add(
      ['region'],
      spec.region,
      `${JSON.stringify(spec.region)} is not a Cloud Tasks location: use a region name such as us-central1`,
    );
  named(['environment'], spec.environment, 'environment name');
  named(['pipeline', 'name'], spec.pipeline.name, 'pipeline name');

  // --- Labels, backend, monitoring ---
  const labelKeys = Object.keys(spec.labels);
  if (labelKeys.length > MAX_LABELS)
    add(
      ['labels'],
      `${labelKeys.length} labels`,
      `${labelKeys.length} labels; Google Cloud allows at most ${MAX_LABELS} per resource`,
    );
  for (const [key, value] of Object.entries(spec.labels)) {
    if (!LABEL_KEY_PATTERN.test(key))
      add(
        ['labels', key],
        key,
        `label key ${JSON.stringify(key)} is not valid: 1-63 lower-case letters, digits, underscores and hyphens, starting with a lower-case letter`,
      );
    else if (!LABEL_VALUE_PATTERN.test(value))
      add(
        ['labels', key],
        value,
        `label value ${preview(value)} is not valid: at most 63 lower-case letters, digits, underscores and hyphens (quote numbers in YAML)`,
      );
  }
  if (spec.backend && !GCS_BUCKET_PATTERN.test(spec.backend.gcs.bucket))
    add(
      ['backend', 'gcs', 'bucket'],
      spec.backend.gcs.bucket,
      `${JSON.stringify(spec.backend.gcs.bucket)} is not a valid Cloud Storage bucket name: 3-63 lower-case letters, digits, hyphens, underscores and dots, starting and ending with a letter or digit`,
    );
  spec.monitoring?.notificationChannels.forEach((channel, i) => {
    if (!NOTIFICATION_CHANNEL_PATTERN.test(channel))
      add(
        ['monitoring', 'notificationChannels', i],
        channel,
        `${preview(channel)} is not a notification channel name: use projects/<project>/notificationChannels/<id>`,
      );
  });

  // --- Deploy identities ---
  if (spec.deployer) deployerRules(spec.deployer, add);

  // --- Steps ---
  const steps = spec.pipeline.steps;
  const stepsPath: PathSegment[] = ['pipeline', 'steps'];
  const stepPath = (i: number): PathSegment[] => [...stepsPath, i];
  if (steps.length === 0) add(stepsPath, [], 'a pipeline needs at least one step');
  if (steps.length > LIMITS.queuesPerRegion)
    add(
      stepsPath,
      `${steps.length} steps`,
      `${steps.length} steps need ${steps.length} queues; Cloud Tasks allows at most ${LIMITS.queuesPerRegion.toLocaleString('en-US')} queues per project per region`,
    );

  const stepIndex = new Map<string, number>();
  steps.forEach((step, i) => {
    const first = stepIndex.get(step.name);
    if (first !== undefined)
      add(
        [...stepPath(i), 'name'],
        step.name,
        `${JSON.stringify(step.name)} is already the name of pipeline.steps[${first}]; step names must be unique (each names a queue)`,
      );
    else stepIndex.set(step.name, i);
  });
  // Rules that look steps up by name read every step name: the loader drops them when a name failed the schema.
  const allNames: PathSegment[][] = [stepsPath, ...steps.map((_, i) => [...stepPath(i), 'name'])];
  const unknownStep = (name: string): string => {
    const names = [...stepIndex.keys()];
    const hint = closest(name, names);
    return `${JSON.stringify(name)} is not a step of this pipeline${hint ? ` (did you mean ${JSON.stringify(hint)}?)` : ''}; steps: ${names.join(', ')}`;
  };

  steps.forEach((step, i) => {
    const path = stepPath(i);
    named([...path, 'name'], step.name, 'step name');
    queueIdRule(spec, step, path, add);
    targetRules(step, [...path, 'target'], add, addRule);

    for (const p of rateLimitProblems(step.rateLimits)) addRule([...path, 'rateLimits'], p);
    retryRules(step, [...path, 'retry'], add, addRule);
    for (const p of dispatchDeadlineProblems(step.dispatchDeadlineSeconds)) addRule(path, p);
    for (const p of samplingRatioProblems(step.logSamplingRatio)) addRule(path, p);

    const seen = new Set<string>();
    step.next.forEach((next, j) => {
      const nextPath = [...path, 'next', j];
      if (next === step.name)
        add(
          nextPath,
          next,
          `step ${JSON.stringify(step.name)} names itself: a step cannot enqueue into its own queue (Cloud Tasks retries failed tasks already)`,
        );
      else if (seen.has(next)) add(nextPath, next, `${JSON.stringify(next)} is listed twice in next`);
      else if (!stepIndex.has(next)) add(nextPath, next, unknownStep(next), allNames);
      seen.add(next);
    });

    if (step.local) localUrlRule(step.local.url, [...path, 'local', 'url'], add);
  });

  for (const cycle of findCycles(steps, stepIndex))
    add(
      [...stepPath(cycle.from), 'next', cycle.nextIndex],
      steps[cycle.from].next[cycle.nextIndex],
      `cycle ${cycle.names.join(' -> ')}: next must form a DAG, or tasks would be enqueued for ever`,
      cycle.members.map((m) => [...stepPath(m), 'name']),
    );

  // --- Seed tasks ---
  const seedIds = new Map<string, number>();
  spec.pipeline.seedTasks.forEach((task, k) => {
    const path: PathSegment[] = ['pipeline', 'seedTasks', k];
    const i = stepIndex.get(task.step);
    if (i === undefined) add([...path, 'step'], task.step, unknownStep(task.step), allNames);

    const idProblems = taskIdProblems(task.id);
    for (const p of idProblems) addRule(path, p);
    const key = `${task.step}\0${task.id}`;
    const first = seedIds.get(key);
    if (first !== undefined)
      add(
        [...path, 'id'],
        task.id,
        `${JSON.stringify(task.id)} is already the id of pipeline.seedTasks[${first}] for step ${JSON.stringify(task.step)}; seed ids must be unique per step (each becomes a named task)`,
      );
    else seedIds.set(key, k);

    if (task.scheduleTime !== undefined) {
      const at = parseRfc3339(task.scheduleTime);
      if (!at)
        add(
          [...path, 'scheduleTime'],
          task.scheduleTime,
          `${preview(task.scheduleTime)} is not a valid RFC 3339 timestamp: write e.g. 2026-12-01T00:00:00Z (a real date, T between date and time, Z or an offset)`,
        );
      else for (const p of scheduleTimeProblems(at, opts.now)) addRule(path, p);
    }

    if (i === undefined) return;
    const step = steps[i];
    // Found by name, so only this step's name matters (other steps' names cannot change the match).
    const stepInputs: PathSegment[][] = [
      [...path, 'step'],
      [...stepPath(i), 'name'],
    ];

    // The id Cloud Tasks sees is `<hash>-<id>` (taskIdFor): it, not the id as written, must fit in 500 characters.
    if (idProblems.length === 0) {
      const queueName = queueNameFor(spec.project, spec.region, queueIdFor(spec, step.name));
      const taskId = taskIdFor(queueName, task.id);
      if (taskId.length > LIMITS.taskIdMaxLength)
        for (const p of taskIdProblems(taskId))
          add(
            [...path, 'id'],
            task.id,
            `the task id ${p.message} (a ${TASK_ID_PREFIX_LENGTH}-character hash prefix plus this id): shorten this id to at most ${LIMITS.taskIdMaxLength - TASK_ID_PREFIX_LENGTH} characters`,
            stepInputs,
          );
    }

    if (task.payload !== undefined) {
      const payloadPath = [...path, 'payload'];
      // An unknown method is reported on the step already.
      if (HTTP_METHODS.includes(step.target.method) && !METHODS_WITH_BODY.includes(step.target.method))
        add(
          payloadPath,
          task.payload,
          `step ${JSON.stringify(step.name)} uses method ${step.target.method}, and Cloud Tasks sends a body only with ${METHODS_WITH_BODY.join(', ')}: remove the payload or change target.method`,
          [...stepInputs, [...stepPath(i), 'target', 'method']],
        );
      let body: string | undefined;
      try {
        body = JSON.stringify(task.payload);
      } catch (e) {
        add(payloadPath, '(not JSON)', `is not JSON-serializable: ${(e as Error).message}`);
      }
      if (body !== undefined) {
        // Counted as the seeder sends it: URL + headers (with the JSON content type) + body.
        const headers = { ...step.target.headers, 'Content-Type': 'application/json' };
        const size = httpRequestSizeBytes(step.target.url, headers, body);
        for (const p of taskSizeProblems(size))
          addRule(
            path,
            p,
            ['payload'],
            [...stepInputs, [...stepPath(i), 'target', 'url'], [...stepPath(i), 'target', 'headers']],
          );
      }
    }
  });

  return out;
}

type Add = (path: PathSegment[], value: unknown, message: string, inputs?: PathSegment[][]) => void;
type AddRule = (base: PathSegment[], p: Problem, field?: PathSegment[], inputs?: PathSegment[][]) => void;

/** queue.proto: a queue id is at most 100 characters. Our names are a subset of its alphabet, so only length can fail. */
function queueIdRule(spec: PipelineSpec, step: StepSpec, path: PathSegment[], add: Add): void {
  const queueId = queueIdFor(spec, step.name);
  if (queueId.length <= LIMITS.queueIdMaxLength) return;
  for (const p of queueIdProblems(queueId)) {
    const over = queueId.length - LIMITS.queueIdMaxLength;
    add(
      [...path, 'name'],
      step.name,
      `queue id ${p.message}: shorten pipeline.name (${spec.pipeline.name.length} characters), environment (${spec.environment.length}) or this step name (${step.name.length}) by ${over} character${over === 1 ? '' : 's'} in total`,
      [['pipeline', 'name'], ['environment']],
    );
  }
}

function targetRules(step: StepSpec, path: PathSegment[], add: Add, addRule: AddRule): void {
  const t = step.target;
  const urlProblems = targetUrlProblems(t.url);
  for (const p of urlProblems) addRule(path, p);

  if (!HTTP_METHODS.includes(t.method))
    add(
      [...path, 'method'],
      t.method,
      `${JSON.stringify(t.method)} is not an HTTP method Cloud Tasks supports: ${HTTP_METHODS.join(', ')}`,
    );

  // target.proto OAuthToken: "should only be used when sending HTTP requests to *.googleapis.com".
  if (t.auth === 'oauth' && urlProblems.length === 0) {
    const host = new URL(t.url).hostname;
    if (!isGoogleApisHost(host))
      add(
        [...path, 'auth'],
        t.auth,
        `oauth tokens are only for Google APIs on *.googleapis.com, and ${host} is not one: use auth: oidc (Cloud Run, Cloud Functions, your own endpoints)`,
        [[...path, 'url']],
      );
  }
  if (t.audience !== undefined) {
    if (t.auth !== 'oidc')
      add(
        [...path, 'audience'],
        t.audience,
        `audience is only used with auth: oidc, and this target uses auth: ${t.auth}`,
      );
    else for (const p of targetUrlProblems(t.audience, 'audience')) addRule(path, p);
  }
  if (t.scope !== undefined) {
    if (t.auth !== 'oauth')
      add([...path, 'scope'], t.scope, `scope is only used with auth: oauth, and this target uses auth: ${t.auth}`);
    else for (const p of targetUrlProblems(t.scope, 'scope')) addRule(path, p);
  }

  for (const p of headerProblems(t.headers)) addRule(path, p);

  if (t.serviceAccount !== undefined && !EMAIL_PATTERN.test(t.serviceAccount))
    add(
      [...path, 'serviceAccount'],
      t.serviceAccount,
      `${preview(t.serviceAccount)} is not a service account e-mail: write e.g. worker@my-project.iam.gserviceaccount.com`,
    );
  if (t.cloudRun) {
    if (!CLOUD_RUN_SERVICE_PATTERN.test(t.cloudRun.service))
      add(
        [...path, 'cloudRun', 'service'],
        t.cloudRun.service,
        `${preview(t.cloudRun.service)} is not a Cloud Run service name: at most 49 lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen`,
      );
    if (!LIMITS.locationPattern.test(t.cloudRun.region))
      add(
        [...path, 'cloudRun', 'region'],
        t.cloudRun.region,
        `${JSON.stringify(t.cloudRun.region)} is not a region name such as us-central1`,
      );
  }
}

/**
 * `deployer`: IAM members, each granted actAs on the invoker. A bare e-mail is the usual slip (IAM needs the type
 * prefix), so its fix names the prefix; a prefix in the wrong case is named too (IAM types are case-sensitive).
 */
function deployerRules(deployer: readonly string[], add: Add): void {
  const seen = new Map<string, number>();
  deployer.forEach((member, i) => {
    const path: PathSegment[] = ['deployer', i];
    const first = seen.get(member);
    if (first !== undefined) {
      add(path, member, `${preview(member)} is already deployer[${first}]; list each deploy identity once`);
      return;
    }
    seen.set(member, i);
    if (!IAM_MEMBER_PATTERN.test(member)) add(path, member, iamMemberMessage(member));
  });
}

/** Why `member` is not an IAM member a deploy can run as, and what to write instead. */
function iamMemberMessage(member: string): string {
  const v = preview(member);
  const notMember = `${v} is not an IAM member`;
  if (member === 'allUsers' || member === 'allAuthenticatedUsers')
    return `${v} would let anyone act as the pipeline's invoker account: name the identities that run cdktf deploy (${IAM_MEMBER_FORMAT_HINT})`;
  const colon = member.indexOf(':');
  if (colon < 0 && EMAIL_PATTERN.test(member)) {
    // A service account's e-mail always ends in .gserviceaccount.com, so only that prefix fits it.
    const fix = /\.gserviceaccount\.com$/i.test(member)
      ? `write serviceAccount:${member}`
      : `write user:${member} (a person) or group:${member} (a Google group)`;
    return `${notMember}: a bare e-mail needs its IAM type; ${fix}`;
  }
  const type = colon < 0 ? '' : member.slice(0, colon);
  const rest = colon < 0 ? member : member.slice(colon + 1);
  const known = IAM_MEMBER_TYPES.find((t) => t === type);
  const caseSlip = known ? undefined : IAM_MEMBER_TYPES.find((t) => t.toLowerCase() === type.toLowerCase());
  if (caseSlip) return `${notMember}: IAM types are case-sensitive; write ${caseSlip}:${rest}`;
  if (known === 'serviceAccount') {
    if (EMAIL_PATTERN.test(rest))
      return `${notMember}: a service account e-mail ends in .gserviceaccount.com; for a person write user:${rest}`;
    return `${notMember}: serviceAccount: takes a service account e-mail, e.g. serviceAccount:deployer@my-project.iam.gserviceaccount.com`;
  }
  if (known === 'user' || known === 'group')
    return `${notMember}: ${known}: takes an e-mail address, e.g. ${known}:${known === 'user' ? 'alice' : 'ml-deployers'}@example.com`;
  if (known === 'domain') return `${notMember}: domain: takes a domain name, e.g. domain:example.com`;
  if (known)
    return `${notMember}: ${known}: takes a URI, e.g. ${known}://iam.googleapis.com/projects/<number>/locations/global/workloadIdentityPools/<pool>/...`;
  return `${notMember}: use ${IAM_MEMBER_FORMAT_HINT}`;
}

function retryRules(step: StepSpec, path: PathSegment[], add: Add, addRule: AddRule): void {
  const r = step.retry;
  for (const p of retryConfigProblems(r)) addRule(path, p, [RETRY_FIELDS[p.field] ?? p.field]);
  // With only one of the backoffs set, the other is the service default: minBackoff 2h alone is still too long.
  const min = r.minBackoffSeconds;
  const max = r.maxBackoffSeconds;
  if ((min === undefined) === (max === undefined)) return;
  const effective = {
    minBackoffSeconds: min ?? SERVICE_DEFAULTS.minBackoffSeconds,
    maxBackoffSeconds: max ?? SERVICE_DEFAULTS.maxBackoffSeconds,
  };
  for (const p of retryConfigProblems(effective)) {
    const unset = min === undefined ? 'minBackoff' : 'maxBackoff';
    const set = min === undefined ? 'maxBackoff' : 'minBackoff';
    add(
      [...path, set],
      p.value,
      `${p.message} (${unset} is not set, so the Cloud Tasks default ${effective[`${unset}Seconds`]}s applies): set ${unset} too`,
    );
  }
}

function localUrlRule(url: string, path: PathSegment[], add: Add): void {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || !isLoopbackHost(parsed.hostname))
    add(
      path,
      url,
      `${preview(url)} must be an http(s) URL on this machine (127.0.0.1, ::1 or localhost): npm run local sends tasks only to local workers`,
    );
}

/** A rules.ts field (`maxDispatchesPerSecond`, `headers.X-Foo`) as path segments; only the first dot splits. */
function fieldSegments(field: string): PathSegment[] {
  const dot = field.indexOf('.');
  return dot < 0 ? [field] : [field.slice(0, dot), field.slice(dot + 1)];
}

interface Cycle {
  /** Index of the step the cycle is reported at (the earliest step in the file that is on it). */
  readonly from: number;
  readonly nextIndex: number;
  /** Step names around the cycle, first repeated at the end: train -> infer -> train. */
  readonly names: string[];
  /** Indexes of the steps on the cycle. */
  readonly members: number[];
}

/**
 * Every distinct cycle that a depth-first search closes (one per back edge), each reported once at the earliest
 * step on it. Self references are reported separately and skipped here.
 */
function findCycles(steps: readonly StepSpec[], index: ReadonlyMap<string, number>): Cycle[] {
  const state = new Array<0 | 1 | 2>(steps.length).fill(0); // 0 unvisited, 1 on the stack, 2 done
  const stack: number[] = [];
  const found = new Map<string, Cycle>();

  const visit = (i: number): void => {
    state[i] = 1;
    stack.push(i);
    for (const name of steps[i].next) {
      const j = index.get(name);
      if (j === undefined || j === i) continue;
      if (state[j] === 1) {
        const members = stack.slice(stack.indexOf(j));
        const start = members.indexOf(Math.min(...members));
        const ring = [...members.slice(start), ...members.slice(0, start)];
        const key = ring.join(',');
        if (!found.has(key)) {
          const to = steps[ring.length > 1 ? ring[1] : ring[0]].name;
          found.set(key, {
            from: ring[0],
            nextIndex: steps[ring[0]].next.indexOf(to),
            names: [...ring, ring[0]].map((n) => steps[n].name),
            members: ring,
          });
        }
      } else if (state[j] === 0) visit(j);
    }
    stack.pop();
    state[i] = 2;
  };
  steps.forEach((_, i) => {
    if (state[i] === 0) visit(i);
  });
  return [...found.values()].sort((a, b) => a.from - b.from || a.nextIndex - b.nextIndex);
}

/** The candidate nearest to `word` by edit distance, when close enough to be a likely typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    // A longer form of a choice ("training" for "train") counts as one edit.
    const prefix = c.length >= 3 && word.length >= 3 && (word.startsWith(c) || c.startsWith(word));
    const d = prefix ? 1 : editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

/** Optimal string alignment distance: edits plus swaps of neighbours (the commonest typo, "trian"). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.length][b.length];
}
