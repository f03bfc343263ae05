/**
 * The pipeline the dashboard draws, read from what deploys: a synthesized stack (lib/core/synthesized-stack.ts, the
 * one reader of synth output). Steps, their queues and `next` edges come from the `pipeline_graph` output; kinds,
 * joins, parents, target URLs and per-task settings from the `routes` output when the stack publishes one (or from
 * routes the caller built from the spec); the steps seeds start from the seed manifest; the steps schedules start
 * from the stack's `google_cloud_scheduler_job` resources (their HTTP target is the Cloud Tasks API of a queue).
 *
 * Read leniently: a field this release does not know (a new step kind) is shown as it is, never refused, because the
 * dashboard only displays it.
 */
import { readFileSync } from 'node:fs';
import type { PipelineRoutes } from '../../core/routes';
import type { SeedManifest } from '../../core/manifest';
import { queueNameFor } from '../../core/naming';
import type { SynthesizedStack } from '../../core/synthesized-stack';
import { pipelineGraphOf } from '../review/graph';
import type { PipelineStepView } from './api-types';

/** A step as the server knows it: the page's view of it (api-types.ts) without the counts, plus what routes it. */
export interface DashboardStep extends Omit<PipelineStepView, 'counts'> {
  /** The URL a task of this step carries (the queue's http_target routes it). */
  readonly url?: string;
  /** The step's per-task dispatch deadline, when the routes say it. */
  readonly dispatchDeadlineSeconds?: number;
}

export interface DashboardPipeline {
  readonly pipeline: string;
  readonly environment: string;
  readonly stack: string;
  /** In spec order. */
  readonly steps: readonly DashboardStep[];
}

export interface PipelineSources {
  readonly stack: SynthesizedStack;
  /** Routes built from the spec, for stacks that do not publish a `routes` output. @default - none */
  readonly routes?: PipelineRoutes;
}

type Raw = Record<string, unknown>;
const isObject = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** The pipeline of a synthesized stack; undefined when the stack has no `pipeline_graph` (not a pipeline stack). */
export function pipelineOfStack(sources: PipelineSources): DashboardPipeline | undefined {
  const { stack } = sources;
  const graph = pipelineGraphOf(stack.config);
  if (!graph || graph.steps.length === 0) return undefined;
  const routes = routesOutput(stack.config) ?? sources.routes;
  const routeSteps = isObject(routes?.steps) ? (routes.steps as Raw) : {};
  const queues = queuesOf(stack.config);
  const seeds = seedsByStep(stack);
  const parents = new Map<string, string[]>();
  for (const s of graph.steps) for (const n of s.next) parents.set(n, [...(parents.get(n) ?? []), s.name]);
  const steps = graph.steps.map((s): DashboardStep => {
    const route = isObject(routeSteps[s.name]) ? (routeSteps[s.name] as Raw) : {};
    const queueId = s.queueId ?? queueIdFromName(route.queue) ?? s.name;
    const synthesized = queues.get(queueId);
    const queue =
      typeof route.queue === 'string'
        ? route.queue
        : synthesized
          ? queueNameFor(synthesized.project, synthesized.location, queueId)
          : queueId;
    const task = isObject(route.task) ? route.task : {};
    const url = typeof route.url === 'string' ? route.url : synthesized?.url;
    return {
      name: s.name,
      queue,
      queueId,
      kind: typeof route.kind === 'string' ? route.kind : graphKind(s),
      ...(route.join === 'all' || route.join === 'each' ? { join: route.join } : {}),
      next: s.next,
      parents: Array.isArray(route.parents) ? strings(route.parents) : (parents.get(s.name) ?? []),
      seeds: seeds.get(s.name) ?? [],
      schedules: [],
      ...(url ? { url } : {}),
      ...(typeof task.dispatchDeadlineSeconds === 'number'
        ? { dispatchDeadlineSeconds: task.dispatchDeadlineSeconds }
        : {}),
    };
  });
  const byQueueId = new Map(steps.map((s) => [s.queueId, s]));
  for (const { queueId, name } of schedulerJobs(stack.config)) {
    const step = byQueueId.get(queueId);
    if (step) (step.schedules as string[]).push(name);
  }
  return {
    pipeline: graph.pipeline,
    environment: graph.environment,
    stack: typeof routes?.stack === 'string' ? routes.stack : `${graph.pipeline}-${graph.environment}`,
    steps,
  };
}

/** The `routes` output (an object, or the JSON text of one), when the stack publishes it. */
function routesOutput(config: Raw): PipelineRoutes | undefined {
  const outputs = config.output as Record<string, { value?: unknown }> | undefined;
  let v = outputs?.routes?.value;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      return undefined;
    }
  }
  return isObject(v) && isObject(v.steps) ? (v as unknown as PipelineRoutes) : undefined;
}

/** A `kind` the pipeline_graph output may carry (newer stacks); else an HTTP service. */
function graphKind(step: object): string {
  const kind = (step as { kind?: unknown }).kind;
  return typeof kind === 'string' ? kind : 'service';
}

function queueIdFromName(name: unknown): string | undefined {
  return typeof name === 'string' ? /\/queues\/([^/]+)$/.exec(name)?.[1] : undefined;
}

/** The stack's queues by id: project, location, and the URL their http_target sends tasks to. */
function queuesOf(config: Raw): Map<string, { project: string; location: string; url?: string }> {
  const out = new Map<string, { project: string; location: string; url?: string }>();
  const resources = isObject(config.resource) ? config.resource : {};
  const queues = isObject(resources.google_cloud_tasks_queue) ? resources.google_cloud_tasks_queue : {};
  for (const q of Object.values(queues)) {
    if (!isObject(q) || typeof q.name !== 'string' || typeof q.project !== 'string' || typeof q.location !== 'string')
      continue;
    const u = isObject(q.http_target) && isObject(q.http_target.uri_override) ? q.http_target.uri_override : undefined;
    const path = isObject(u?.path_override) && typeof u.path_override.path === 'string' ? u.path_override.path : '';
    const url =
      u && typeof u.host === 'string'
        ? `${u.scheme === 'HTTP' ? 'http' : 'https'}://${u.host}${u.port ? `:${String(u.port)}` : ''}${path || '/'}`
        : undefined;
    out.set(q.name, { project: q.project, location: q.location, ...(url ? { url } : {}) });
  }
  return out;
}

function seedsByStep(stack: SynthesizedStack): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (!stack.seedManifestFile) return out;
  let manifest: Partial<SeedManifest>;
  try {
    manifest = JSON.parse(readFileSync(stack.seedManifestFile, 'utf8')) as Partial<SeedManifest>;
  } catch {
    // The seeder refuses an unreadable manifest with a precise error; the dashboard just shows no seeds.
    return out;
  }
  for (const t of Array.isArray(manifest.tasks) ? manifest.tasks : [])
    if (isObject(t) && typeof t.step === 'string' && typeof t.seedId === 'string')
      out.set(t.step, [...(out.get(t.step) ?? []), t.seedId]);
  return out;
}

/**
 * Cloud Scheduler jobs whose HTTP target is the Cloud Tasks API of a queue (`.../queues/<id>/tasks` or
 * `.../queues/<id>/tasks:buffer`): the schedule enqueues into that queue's step.
 */
export function schedulerJobs(config: Raw): Array<{ name: string; queueId: string }> {
  const resources = isObject(config.resource) ? config.resource : {};
  const jobs = isObject(resources.google_cloud_scheduler_job) ? resources.google_cloud_scheduler_job : {};
  const out: Array<{ name: string; queueId: string }> = [];
  for (const [id, job] of Object.entries(jobs)) {
    if (!isObject(job) || !isObject(job.http_target) || typeof job.http_target.uri !== 'string') continue;
    const m = /\/queues\/([A-Za-z0-9-]+)\/tasks(?::buffer)?(?:[/?]|$)/.exec(job.http_target.uri);
    if (!m) continue;
    const name = typeof job.name === 'string' && !job.name.includes('${') ? job.name : id;
    out.push({ name: name.slice(name.lastIndexOf('/') + 1), queueId: m[1] });
  }
  return out;
}
