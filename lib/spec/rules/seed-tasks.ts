/**
 * Seed tasks: each names a step, has an id unique per step that still fits Cloud Tasks once hash-prefixed, a valid
 * schedule time, and a payload the step's method can carry within the task size limit (counted as the seeder sends
 * it).
 */
import { under, type FieldPath, type Problem } from '../../core/problem';
import {
  HTTP_METHODS,
  LIMITS,
  METHODS_WITH_BODY,
  httpRequestSizeBytes,
  pastScheduleTimeProblems,
  scheduleTimeTextProblems,
  taskIdProblems,
  taskSizeProblems,
} from '../../core/rules/cloud-tasks';
import { TASK_ID_PREFIX_LENGTH, queueIdFor, queueNameFor, taskIdFor } from '../../core/naming';
import type { SeedTaskSpec } from '../types';
import { problemAt, stepPath, type RuleContext } from './context';

export function seedTasksProblems(ctx: RuleContext): Problem[] {
  const seedIds = new Map<string, number>();
  return ctx.spec.pipeline.seedTasks.flatMap((task, k) => {
    const key = `${task.step}\0${task.id}`;
    const first = seedIds.get(key);
    if (first === undefined) seedIds.set(key, k);
    return seedTaskProblems(ctx, task, ['pipeline', 'seedTasks', k], first);
  });
}

function seedTaskProblems(ctx: RuleContext, task: SeedTaskSpec, path: FieldPath, sameIdAt?: number): Problem[] {
  const { spec } = ctx;
  const out: Problem[] = [];
  const i = ctx.stepIndex.get(task.step);
  if (i === undefined) out.push(problemAt([...path, 'step'], task.step, ctx.unknownStep(task.step), ctx.allStepNames));

  const idProblems = taskIdProblems(task.id);
  out.push(...under(path, idProblems));
  if (sameIdAt !== undefined)
    out.push(
      problemAt(
        [...path, 'id'],
        task.id,
        `${JSON.stringify(task.id)} is already the id of pipeline.seedTasks[${sameIdAt}] for step ${JSON.stringify(task.step)}; seed ids must be unique per step (each becomes a named task)`,
      ),
    );

  if (task.scheduleTime !== undefined)
    out.push(
      ...under(path, [
        ...scheduleTimeTextProblems(task.scheduleTime, ctx.now),
        ...pastScheduleTimeProblems(task.scheduleTime, ctx.now),
      ]),
    );

  if (i === undefined) return out;
  const step = spec.pipeline.steps[i];
  // Found by name, so only this step's name matters (other steps' names cannot change the match).
  const stepInputs: FieldPath[] = [
    [...path, 'step'],
    [...stepPath(i), 'name'],
  ];

  // The id Cloud Tasks sees is `<hash>-<id>` (taskIdFor): it, not the id as written, must fit in 500 characters.
  if (idProblems.length === 0) {
    const queueName = queueNameFor(spec.project, spec.region, queueIdFor(spec, step.name));
    const taskId = taskIdFor(queueName, task.id);
    if (taskId.length > LIMITS.taskIdMaxLength)
      for (const p of taskIdProblems(taskId))
        out.push(
          problemAt(
            [...path, 'id'],
            task.id,
            `the task id ${p.message} (a ${TASK_ID_PREFIX_LENGTH}-character hash prefix plus this id): shorten this id to at most ${LIMITS.taskIdMaxLength - TASK_ID_PREFIX_LENGTH} characters`,
            stepInputs,
          ),
        );
  }

  if (task.payload === undefined) return out;
  const payloadPath = [...path, 'payload'];
  // An unknown method is reported on the step already.
  if (HTTP_METHODS.includes(step.target.method) && !METHODS_WITH_BODY.includes(step.target.method))
    out.push(
      problemAt(
        payloadPath,
        task.payload,
        `step ${JSON.stringify(step.name)} uses method ${step.target.method}, and Cloud Tasks sends a body only with ${METHODS_WITH_BODY.join(', ')}: remove the payload or change target.method`,
        [...stepInputs, [...stepPath(i), 'target', 'method']],
      ),
    );
  let body: string | undefined;
  try {
    body = JSON.stringify(task.payload);
  } catch (e) {
    out.push(problemAt(payloadPath, '(not JSON)', `is not JSON-serializable: ${(e as Error).message}`));
  }
  if (body === undefined) return out;
  // Counted as the seeder sends it: URL + headers (with the JSON content type) + body.
  const headers = { ...step.target.headers, 'Content-Type': 'application/json' };
  const size = httpRequestSizeBytes(step.target.url, headers, body);
  const sizeInputs = [...stepInputs, [...stepPath(i), 'target', 'url'], [...stepPath(i), 'target', 'headers']];
  for (const p of taskSizeProblems(size)) out.push({ ...p, path: payloadPath, inputs: sizeInputs });
  return out;
}
