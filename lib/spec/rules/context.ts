/**
 * What the spec rules share: the spec, the clock, and the steps by name (rules that look a step up by name read every
 * step name, so they list those names as inputs: the loader drops them when a name failed the shape check).
 */
import type { FieldPath, PathSegment, Problem } from '../../core/problem';
import { closest } from '../../core/suggest';
import type { PipelineSpec } from '../types';

export interface ValidateOptions {
  /** The clock scheduleTime is checked against (injectable for tests and for synth of a fixed date). */
  readonly now: Date;
}

export const STEPS_PATH: FieldPath = ['pipeline', 'steps'];
export const stepPath = (i: number): PathSegment[] => [...STEPS_PATH, i];

export interface RuleContext {
  readonly spec: PipelineSpec;
  readonly now: Date;
  /** Step name -> index of its first step. */
  readonly stepIndex: ReadonlyMap<string, number>;
  /** The inputs of a rule that looks a step up by name: the step list and every step name. */
  readonly allStepNames: readonly FieldPath[];
  /** `"x" is not a step of this pipeline (did you mean "y"?); steps: a, b`. */
  unknownStep(name: string): string;
}

export function ruleContext(spec: PipelineSpec, opts: ValidateOptions): RuleContext {
  const stepIndex = new Map<string, number>();
  spec.pipeline.steps.forEach((step, i) => {
    if (!stepIndex.has(step.name)) stepIndex.set(step.name, i);
  });
  return {
    spec,
    now: opts.now,
    stepIndex,
    allStepNames: [STEPS_PATH, ...spec.pipeline.steps.map((_, i) => [...stepPath(i), 'name'])],
    unknownStep(name) {
      const names = [...stepIndex.keys()];
      const hint = closest(name, names);
      return `${JSON.stringify(name)} is not a step of this pipeline${hint ? ` (did you mean ${JSON.stringify(hint)}?)` : ''}; steps: ${names.join(', ')}`;
    },
  };
}

/** A problem at `path`, with the inputs it read when there are any. */
export function problemAt(path: FieldPath, value: unknown, message: string, inputs?: readonly FieldPath[]): Problem {
  return inputs ? { path, value, message, inputs } : { path, value, message };
}
