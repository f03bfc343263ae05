/** `next`: the steps a step enqueues into. Each names another step of the pipeline, once, and together they form a DAG. */
import type { Problem } from '../../core/problem';
import type { StepSpec } from '../types';
import { problemAt, stepPath, type RuleContext } from './context';

/** The `next` list of step `i`: no self reference, no duplicate, only steps that exist. */
export function nextProblems(ctx: RuleContext, step: StepSpec, i: number): Problem[] {
  const out: Problem[] = [];
  const seen = new Set<string>();
  step.next.forEach((next, j) => {
    const nextPath = [...stepPath(i), 'next', j];
    if (next === step.name)
      out.push(
        problemAt(
          nextPath,
          next,
          `step ${JSON.stringify(step.name)} names itself: a step cannot enqueue into its own queue (Cloud Tasks retries failed tasks already)`,
        ),
      );
    else if (seen.has(next)) out.push(problemAt(nextPath, next, `${JSON.stringify(next)} is listed twice in next`));
    else if (!ctx.stepIndex.has(next)) out.push(problemAt(nextPath, next, ctx.unknownStep(next), ctx.allStepNames));
    seen.add(next);
  });
  return out;
}

/** Every cycle through `next`, reported once at the earliest step on it. */
export function cycleProblems(ctx: RuleContext): Problem[] {
  const steps = ctx.spec.pipeline.steps;
  return findCycles(steps, ctx.stepIndex).map((cycle) =>
    problemAt(
      [...stepPath(cycle.from), 'next', cycle.nextIndex],
      steps[cycle.from].next[cycle.nextIndex],
      `cycle ${cycle.names.join(' -> ')}: next must form a DAG, or tasks would be enqueued for ever`,
      cycle.members.map((m) => [...stepPath(m), 'name']),
    ),
  );
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
