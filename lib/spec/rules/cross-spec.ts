/**
 * Rules that span spec files: each spec is a separate stack, but they share project-wide names and quotas (stack
 * names, queue ids per project and region, queues per region) and must not share a Terraform state.
 */
import { formatPath, type FieldPath, type Problem } from '../../core/problem';
import { LIMITS } from '../../core/rules/cloud-tasks';
import { queueIdFor, stackNameFor, stateLocationFor } from '../../core/naming';
import { nearest } from '../locate';
import type { Locate } from '../source';
import type { PipelineSpec } from '../types';

/** A spec that loaded without problems, with what locates its fields. */
export interface LoadedSpec {
  readonly file: string;
  readonly spec: PipelineSpec;
  readonly locate: Locate;
}

export function crossSpecProblems(loaded: readonly LoadedSpec[]): Problem[] {
  const out: Problem[] = [];
  const at = (l: LoadedSpec, path: FieldPath, value: unknown, message: string): void => {
    out.push({ file: l.file, ...nearest(path, l.locate), path, value, message });
  };

  const stacks = new Map<string, LoadedSpec>();
  for (const l of loaded) {
    const name = stackNameFor(l.spec);
    const first = stacks.get(name);
    if (first)
      at(
        l,
        ['pipeline', 'name'],
        name,
        `stack name "${name}" (pipeline.name-environment) is also produced by ${first.file}: give one of them another pipeline name or environment`,
      );
    else stacks.set(name, l);
  }

  // One state per stack: a deploy of one stack plans to destroy every resource of the other that shares its state.
  const states = new Map<string, LoadedSpec>();
  for (const l of loaded) {
    if (stacks.get(stackNameFor(l.spec)) !== l) continue; // already reported as a duplicate stack
    const state = stateLocationFor(l.spec);
    const first = states.get(state.key);
    if (!first) {
      states.set(state.key, l);
      continue;
    }
    const gcs = l.spec.backend?.gcs;
    const path = !gcs
      ? ['pipeline', 'name']
      : gcs.prefix !== undefined
        ? ['backend', 'gcs', 'prefix']
        : ['backend', 'gcs'];
    at(
      l,
      path,
      state.display,
      `the Terraform state ${state.display} is also the state of ${first.file}: deploying either stack would destroy the other's queues; give this spec its own backend.gcs.prefix (or bucket)`,
    );
  }

  // Queues of different stacks share the project's namespace and quota per region.
  const regions = new Map<string, LoadedSpec[]>();
  for (const l of loaded) {
    const key = `${l.spec.project}/${l.spec.region}`;
    regions.set(key, [...(regions.get(key) ?? []), l]);
  }
  for (const [key, specs] of regions) {
    const queues = new Map<string, { l: LoadedSpec; i: number }>();
    for (const l of specs) {
      if (stacks.get(stackNameFor(l.spec)) !== l) continue; // already reported as a duplicate stack
      l.spec.pipeline.steps.forEach((step, i) => {
        const id = queueIdFor(l.spec, step.name);
        const first = queues.get(id);
        if (first && first.l !== l)
          at(
            l,
            ['pipeline', 'steps', i, 'name'],
            step.name,
            `queue id "${id}" is also the queue of ${first.l.file} ${formatPath(['pipeline', 'steps', first.i])} in ${key}: rename the step, the pipeline or the environment`,
          );
        else if (!first) queues.set(id, { l, i });
      });
    }
    const total = specs.reduce((n, l) => n + l.spec.pipeline.steps.length, 0);
    if (specs.length > 1 && total > LIMITS.queuesPerRegion) {
      const last = specs[specs.length - 1];
      at(
        last,
        ['pipeline', 'steps'],
        `${total} queues`,
        `the specs for ${key} need ${total.toLocaleString('en-US')} queues together (${specs.map((l) => `${l.file}: ${l.spec.pipeline.steps.length}`).join(', ')}); Cloud Tasks allows at most ${LIMITS.queuesPerRegion.toLocaleString('en-US')} per project per region`,
      );
    }
  }
  return out;
}
