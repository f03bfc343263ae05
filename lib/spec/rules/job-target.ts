/**
 * Job steps: a `target` that is a Cloud Run job (`cloudRunJob`) or a Vertex AI custom job (`vertexAI`) instead of an
 * HTTP endpoint (`url`). The limits come from lib/core/rules/cloud-run.ts and vertex-ai.ts; this file maps them to
 * spec paths, and adds what only makes sense for a job step: exactly one of url / cloudRunJob / vertexAI, OAuth (the
 * step's queue calls a Google API), no headers, POST, `local.command` instead of `local.url`, and seed payloads that
 * fit an environment variable (the message travels in PIPELINE_MESSAGE).
 */
import { formatValue, under, type FieldPath, type Problem } from '../../core/problem';
import { LIMITS } from '../../core/rules/cloud-tasks';
import {
  cloudRunEnvValueProblems,
  cloudRunJobNameProblems,
  maxRetriesProblems,
  parallelismProblems,
  taskCountProblems,
  taskTimeoutProblems,
} from '../../core/rules/cloud-run';
import {
  acceleratorProblems,
  imageUriProblems,
  machineTypeProblems,
  replicaCountProblems,
  vertexEnvValueProblems,
  vertexTimeoutProblems,
} from '../../core/rules/vertex-ai';
import { serviceAccountEmailProblems } from '../../core/rules/iam';
import { DEFAULT_OAUTH_SCOPE, taskIdFor, queueIdFor, queueNameFor } from '../../core/naming';
import { envelopeJson, START_SHARD } from '../../core/ledger-layout';
import { jobApiUrl } from '../../core/job-route';
import { PIPELINE_MESSAGE_ENV } from '../../core/job-env';
import type { StepSpec } from '../types';
import { problemAt, stepPath, type RuleContext } from './context';

const KIND_NAMES = { cloudRunJob: 'a Cloud Run job', vertexAI: 'a Vertex AI custom job' } as const;

/** The job target rules of one step, and the `local` rules that depend on the step's kind. */
export function jobTargetProblems(ctx: RuleContext, step: StepSpec, i: number): Problem[] {
  const path = [...stepPath(i), 'target'];
  const t = step.target;
  const out: Problem[] = [...localProblems(step, [...stepPath(i), 'local'])];
  if (t.cloudRunJob && t.vertexAI)
    out.push(
      problemAt(
        [...path, 'vertexAI'],
        '{...}',
        'a target is exactly one of url (an HTTP endpoint), cloudRunJob or vertexAI, and this one has both cloudRunJob and vertexAI: keep one',
        [[...path, 'cloudRunJob']],
      ),
    );
  const kind = t.cloudRunJob ? 'cloudRunJob' : t.vertexAI ? 'vertexAI' : undefined;
  if (!kind) return out;
  const what = KIND_NAMES[kind];
  const api = jobApiUrl(ctx.spec.project, t);
  if (api !== undefined && t.url !== api)
    out.push(
      problemAt(
        [...path, 'url'],
        t.url,
        `a target is exactly one of url (an HTTP endpoint), cloudRunJob or vertexAI: remove url (${what} target calls ${api})`,
        [[...path, kind]],
      ),
    );
  // Cloud Tasks' OAuthToken is for *.googleapis.com, which is what the step's queue calls; OIDC tokens are for
  // endpoints that verify an audience (Cloud Run services, your own), and the Google API would refuse one.
  if (t.auth !== 'oauth')
    out.push(
      problemAt(
        [...path, 'auth'],
        t.auth,
        `${what} step is started through a Google API (${new URL(api ?? 'https://googleapis.com').host}), which takes OAuth tokens only: remove auth (oauth with the cloud-platform scope is implied)`,
      ),
    );
  if (t.scope !== undefined && t.scope !== DEFAULT_OAUTH_SCOPE)
    out.push(
      problemAt(
        [...path, 'scope'],
        t.scope,
        `${what} step's API call needs the ${DEFAULT_OAUTH_SCOPE} scope: remove scope`,
      ),
    );
  if (Object.keys(t.headers).length > 0)
    out.push(
      problemAt(
        [...path, 'headers'],
        Object.keys(t.headers).join(', '),
        `headers go to the Google API that starts the job, not to your job: remove them and pass what the job needs in the payload`,
      ),
    );
  if (t.method !== 'POST')
    out.push(problemAt([...path, 'method'], t.method, `${what} is started with POST: remove method`));
  if (t.cloudRun)
    out.push(
      problemAt(
        [...path, 'cloudRun'],
        t.cloudRun.service,
        `cloudRun names the Cloud Run service of an HTTP target; ${what} step names its job in ${kind === 'cloudRunJob' ? 'cloudRunJob.job' : 'vertexAI.customJob'}: remove cloudRun`,
      ),
    );
  if (t.cloudRunJob) out.push(...under([...path, 'cloudRunJob'], cloudRunJobProblems(t.cloudRunJob)));
  if (t.vertexAI) out.push(...vertexProblems(step, [...path, 'vertexAI']));
  return out;
}

function cloudRunJobProblems(j: NonNullable<StepSpec['target']['cloudRunJob']>): Problem[] {
  return [
    ...cloudRunJobNameProblems(j.job),
    ...regionProblems(j.region, ['region']),
    ...taskCountProblems(j.taskCount),
    ...(j.parallelism !== undefined ? parallelismProblems(j.parallelism, j.taskCount) : []),
    ...taskTimeoutProblems(j.timeoutSeconds, j.gpu ?? false),
    ...maxRetriesProblems(j.maxRetries),
  ];
}

function vertexProblems(step: StepSpec, path: FieldPath): Problem[] {
  const v = step.target.vertexAI!;
  const c = v.customJob;
  const job = [...path, 'customJob'];
  const out: Problem[] = [
    ...regionProblems(v.region, [...path, 'region']),
    ...under(job, machineTypeProblems(c.machineType)),
    ...under(job, acceleratorProblems(c.acceleratorType, c.acceleratorCount)),
    ...under(job, replicaCountProblems(c.replicaCount)),
    ...under(job, imageUriProblems(c.imageUri)),
    ...under(job, vertexTimeoutProblems(c.timeoutSeconds)),
  ];
  c.args.forEach((a, k) => {
    if (a === '')
      out.push(problemAt([...job, 'args', k], a, 'must be a non-empty string (an argument of the entrypoint)'));
  });
  if (c.serviceAccount !== undefined)
    out.push(...serviceAccountEmailProblems(c.serviceAccount, [...job, 'serviceAccount']));
  else
    out.push({
      path: [...job, 'serviceAccount'],
      value: undefined,
      severity: 'warning',
      message:
        "is not set: the job runs as Vertex AI's custom code service agent, which this stack cannot grant the run ledger and the next steps' queues to; set the job's own service account",
    });
  const worker = step.target.serviceAccount;
  if (c.serviceAccount !== undefined && worker !== undefined && worker !== c.serviceAccount)
    out.push(
      problemAt(
        [...path.slice(0, -1), 'serviceAccount'],
        worker,
        `a Vertex AI job runs as vertexAI.customJob.serviceAccount (${c.serviceAccount}): remove target.serviceAccount or make them the same`,
        [[...job, 'serviceAccount']],
      ),
    );
  return out;
}

function regionProblems(region: string, at: FieldPath): Problem[] {
  if (LIMITS.locationPattern.test(region)) return [];
  return [problemAt(at, region, `${JSON.stringify(region)} is not a region name such as us-central1`)];
}

/** `local.url` serves a service step, `local.command` runs a job step's tasks; one of them, matching the kind. */
function localProblems(step: StepSpec, path: FieldPath): Problem[] {
  const local = step.local;
  if (!local) return [];
  const isJob = step.target.cloudRunJob !== undefined || step.target.vertexAI !== undefined;
  const out: Problem[] = [];
  if (local.url === undefined && local.command === undefined)
    out.push(
      problemAt(
        path,
        '{}',
        isJob
          ? 'needs command: the argv that runs one task of this job on this machine, e.g. ["node", "--require", "tsx/cjs", "jobs/train.ts"]'
          : 'needs url: where your worker for this step listens on this machine, e.g. http://127.0.0.1:8080',
      ),
    );
  if (isJob && local.url !== undefined)
    out.push(
      problemAt(
        [...path, 'url'],
        local.url,
        'a job step has no worker URL: npm run local runs its tasks as processes; use local.command (an argv array) instead',
      ),
    );
  if (!isJob && local.command !== undefined)
    out.push(
      problemAt(
        [...path, 'command'],
        '[...]',
        'local.command runs the tasks of a job step (cloudRunJob, vertexAI); this step is an HTTP service: use local.url',
      ),
    );
  if (local.command !== undefined) {
    if (local.command.length === 0)
      out.push(
        problemAt(
          [...path, 'command'],
          '[]',
          'must name a program to run: an argv array such as ["node", "jobs/train.ts"]',
        ),
      );
    local.command.forEach((a, k) => {
      if (a === '')
        out.push(
          problemAt(
            [...path, 'command', k],
            a,
            'must be a non-empty string: each item is one argument, passed as it is (no shell: no quoting, globs or variables)',
          ),
        );
    });
  }
  return out;
}

/**
 * A seed task of a job step travels in PIPELINE_MESSAGE (its task envelope), so its payload must fit one environment
 * variable: 32,768 bytes on Cloud Run, 131,072 on Vertex.
 */
export function jobSeedProblems(ctx: RuleContext): Problem[] {
  const { spec } = ctx;
  const out: Problem[] = [];
  spec.pipeline.seedTasks.forEach((seed, k) => {
    const i = ctx.stepIndex.get(seed.step);
    if (i === undefined) return;
    const step = spec.pipeline.steps[i];
    const kind = step.target.cloudRunJob ? 'cloudRunJob' : step.target.vertexAI ? 'vertexAI' : undefined;
    if (!kind) return;
    let payloadJson: string;
    try {
      payloadJson = JSON.stringify(seed.payload === undefined ? null : seed.payload);
    } catch {
      return; // reported by the seed task rules
    }
    const envelope = envelopeJson({
      runId: seed.id,
      step: step.name,
      shard: START_SHARD,
      generation: 0,
      payloadJson,
      source: { kind: 'seed', name: seed.id },
    });
    const problems =
      kind === 'cloudRunJob'
        ? cloudRunEnvValueProblems(PIPELINE_MESSAGE_ENV, envelope, [])
        : vertexEnvValueProblems(PIPELINE_MESSAGE_ENV, envelope, []);
    const taskId = taskIdFor(queueNameFor(spec.project, spec.region, queueIdFor(spec, step.name)), seed.id);
    for (const p of problems)
      out.push(
        problemAt(
          ['pipeline', 'seedTasks', k, 'payload'],
          p.value,
          `the payload of seed ${formatValue(seed.id)} (task ${taskId}) for ${KIND_NAMES[kind]} step ${JSON.stringify(step.name)} ${p.message}`,
          [
            ['pipeline', 'seedTasks', k, 'step'],
            [...stepPath(i), 'target', kind],
          ],
        ),
      );
  });
  return out;
}
