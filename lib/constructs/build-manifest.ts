/**
 * Builds the seed manifest (lib/core/manifest.ts) from a normalized pipeline spec: one complete Cloud Tasks HTTP
 * request per seed task, so the seeder needs nothing at deploy time but the manifest file and credentials.
 *
 * Deterministic: the same spec yields byte-identical JSON (serializeSeedManifest sorts keys), hence the same sha256,
 * hence no Terraform diff and no re-seeding when nothing changed.
 */
import { createHash } from 'node:crypto';
import { METHODS_WITH_BODY, httpRequestSizeBytes, taskIdProblems, taskSizeProblems } from '../core/rules/cloud-tasks';
import { formatProblem, ProblemError, type Problem } from '../core/problem';
import {
  invokerEmailFor,
  oauthScopeFor,
  oidcAudienceFor,
  queueIdFor,
  queueNameFor,
  stackNameFor,
  taskIdFor,
} from '../core/naming';
import { SECRET_RULES } from '../core/secrets';
import { ledgerLocationFor } from '../core/ledger-layout';
import { type PipelineSpec } from '../spec/types';
import { MANIFEST_VERSION, type ManifestHttpRequest, type ManifestTask, type SeedManifest } from '../core/manifest';
import { envelopeJson, START_SHARD } from '../core/ledger-layout';
import { jobRequest } from '../core/job-requests';
import { shardsPerMessage } from '../core/job-route';
import { buildRoutes, type PipelineRoutes } from '../core/routes';

export function buildSeedManifest(spec: PipelineSpec): SeedManifest {
  const invokerEmail = invokerEmailFor(spec);
  const problems: Problem[] = [];
  let routes: PipelineRoutes | undefined;
  const tasks: ManifestTask[] = [];
  spec.pipeline.seedTasks.forEach((seed, i) => {
    const at = ['pipeline', 'seedTasks', i];
    const step = spec.pipeline.steps.find((s) => s.name === seed.step);
    if (!step) {
      problems.push({ path: [...at, 'step'], value: seed.step, message: 'names no step of the pipeline' });
      return;
    }
    const queue = queueNameFor(spec.project, spec.region, queueIdFor(spec, step.name));
    const taskId = taskIdFor(queue, seed.id);
    problems.push(...taskIdProblems(taskId, [...at, 'id']));

    const t = step.target;
    const headers: Record<string, string> = { ...t.headers };
    let body: string | undefined;
    if (t.cloudRunJob || t.vertexAI) {
      // A job step's task is the API request that starts its job, the run's first message in PIPELINE_MESSAGE
      // (lib/core/job-requests.ts): the run id is the seed id, as for a service step's seed.
      routes ??= buildRoutes(spec);
      const request = jobRequest(routes, step.name, {
        runId: seed.id,
        shard: START_SHARD,
        envelopeJson: envelopeJson({
          runId: seed.id,
          step: step.name,
          shard: START_SHARD,
          generation: 0,
          payloadJson: JSON.stringify(seed.payload === undefined ? null : seed.payload),
          source: { kind: 'seed', name: seed.id },
        }),
      });
      problems.push(...request.problems.map((p) => ({ ...p, path: [...at, 'payload'] })));
      body = request.body;
      headers['Content-Type'] = 'application/json';
    } else if (seed.payload !== undefined) {
      if (!METHODS_WITH_BODY.includes(t.method)) {
        problems.push({
          path: [...at, 'payload'],
          value: t.method,
          message: `step "${step.name}" uses ${t.method}; Cloud Tasks sends a body only with ${METHODS_WITH_BODY.join(', ')}`,
        });
      }
      body = JSON.stringify(seed.payload);
      // The worker needs to know the body is JSON; a Content-Type the spec sets itself wins.
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
        headers['Content-Type'] = 'application/json';
    }
    problems.push(...taskSizeProblems(httpRequestSizeBytes(t.url, headers, body), [...at, 'payload']));

    const httpRequest: ManifestHttpRequest = {
      url: t.url,
      httpMethod: t.method,
      headers,
      ...(body === undefined ? {} : { body }),
      ...(t.auth === 'oidc' ? { oidcToken: { serviceAccountEmail: invokerEmail, audience: oidcAudienceFor(t) } } : {}),
      ...(t.auth === 'oauth' ? { oauthToken: { serviceAccountEmail: invokerEmail, scope: oauthScopeFor(t) } } : {}),
    };
    tasks.push({
      step: step.name,
      seedId: seed.id,
      queue,
      taskId,
      // As written (the spec validator checked it is RFC 3339): re-formatting through Date would drop sub-millisecond
      // digits that the seeder passes on to Cloud Tasks.
      ...(seed.scheduleTime === undefined ? {} : { scheduleTime: seed.scheduleTime }),
      dispatchDeadlineSeconds: step.dispatchDeadlineSeconds,
      httpRequest,
    });
  });
  if (problems.length) {
    // The spec validator reports these with file and line first; this guards TypeScript callers that skip it.
    throw new ProblemError(
      `cannot build the seed manifest of ${stackNameFor(spec)}:`,
      problems,
      (p) => `  - ${formatProblem(p)}`,
    );
  }
  const startShards: Record<string, number> = {};
  for (const [step, route] of Object.entries(routes?.steps ?? {}))
    if (spec.pipeline.seedTasks.some((s) => s.step === step) && shardsPerMessage(route) > 1)
      startShards[step] = shardsPerMessage(route);
  // The seeder re-runs the secret rules at deploy time; a suppression written in the spec holds there too.
  const secretRules: readonly string[] = Object.values(SECRET_RULES);
  const secretsAllowed = (spec.policy?.suppress ?? [])
    .filter((s) => secretRules.includes(s.rule))
    .map((s) => ({ rule: s.rule, reason: s.reason }));
  return {
    version: MANIFEST_VERSION,
    stack: stackNameFor(spec),
    ledger: {
      pipeline: spec.pipeline.name,
      ...ledgerLocationFor(spec),
      // Seeds on job steps: their start step expects the job's shards (written only when some seed has more than one).
      ...(Object.keys(startShards).length > 0 ? { startShards } : {}),
    },
    project: spec.project,
    location: spec.region,
    tasks,
    ...(secretsAllowed.length > 0 ? { secretsAllowed } : {}),
  };
}

/** Canonical JSON: keys sorted at every level, two-space indent, trailing newline. Arrays keep their order. */
export function serializeSeedManifest(manifest: SeedManifest): string {
  return `${JSON.stringify(sortKeys(manifest), null, 2)}\n`;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value as object)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}
