/**
 * What the run ledger needs of a spec (docs/runs.md): each step's `join` only where it means something, a `ledger`
 * location that names a valid Firestore database, project and location, and seed ids unique in the pipeline (a seed's
 * id is the id of the run it starts). The Firestore rules come from lib/core/rules/firestore.ts.
 */
import { formatValue, type FieldPath, type Problem } from '../../core/problem';
import { JOIN_MODES } from '../../core/routes';
import { databaseIdProblems, locationIdProblems } from '../../core/rules/firestore';
import { projectIdProblems } from '../../core/rules/resource-manager';
import { problemAt, STEPS_PATH, stepPath, type RuleContext } from './context';

export function runsProblems(ctx: RuleContext): Problem[] {
  return [...joinProblems(ctx), ...ledgerProblems(ctx), ...seedRunIdProblems(ctx)];
}

/** `join` on a step: a join mode, and only on a step some other step names in `next` (it has parents). */
function joinProblems(ctx: RuleContext): Problem[] {
  const steps = ctx.spec.pipeline.steps;
  const parents = new Map<string, string[]>();
  for (const s of steps) for (const n of s.next) parents.set(n, [...(parents.get(n) ?? []), s.name]);
  // Whether a step has parents depends on every step's `next`.
  const graphInputs: FieldPath[] = [STEPS_PATH, ...steps.map((_, i) => [...stepPath(i), 'next'])];
  const out: Problem[] = [];
  steps.forEach((step, i) => {
    if (step.join === undefined) return;
    const path = [...stepPath(i), 'join'];
    if (!(JOIN_MODES as readonly string[]).includes(step.join)) {
      out.push(
        problemAt(
          path,
          step.join,
          `${formatValue(step.join)} is not a join mode: use "all" (one task per run once every parent completed) or "each" (one task per message a parent sends)`,
        ),
      );
      return;
    }
    const of = parents.get(step.name) ?? [];
    if (of.length === 0)
      out.push(
        problemAt(
          path,
          step.join,
          `step ${JSON.stringify(step.name)} has no parents (no step names it in next), so it has nothing to join: a join says how a step receives its parents' messages; remove join here (a step without parents starts runs)`,
          graphInputs,
        ),
      );
  });
  return out;
}

/** `ledger`: an existing database (and its project) or where the stack creates one, never both. */
function ledgerProblems({ spec }: RuleContext): Problem[] {
  const ledger = spec.ledger;
  if (!ledger) return [];
  const out: Problem[] = [];
  if (ledger.database !== undefined) out.push(...databaseIdProblems(ledger.database, ['ledger', 'database']));
  if (ledger.project !== undefined) {
    out.push(...projectIdProblems(ledger.project, ['ledger', 'project']));
    if (ledger.database === undefined)
      out.push(
        problemAt(
          ['ledger', 'project'],
          ledger.project,
          'names the project of an existing ledger database, but ledger.database is not set: name that database too (the stack creates a database only in the spec project)',
        ),
      );
  }
  if (ledger.location !== undefined) {
    out.push(...locationIdProblems(ledger.location, ['ledger', 'location']));
    if (ledger.database !== undefined)
      out.push(
        problemAt(
          ['ledger', 'location'],
          ledger.location,
          'is the location of a database the stack creates, but ledger.database names an existing one (its location is already set): remove one of the two',
          [['ledger', 'database']],
        ),
      );
  }
  return out;
}

/**
 * A seed task starts the run whose id is the seed's id, so two seeds of different steps with one id would be one run
 * (the second never starts). The same id twice for one step is reported by the seed-task rules.
 */
function seedRunIdProblems({ spec }: RuleContext): Problem[] {
  const firstById = new Map<string, number>();
  const out: Problem[] = [];
  spec.pipeline.seedTasks.forEach((task, k) => {
    const first = firstById.get(task.id);
    if (first === undefined) {
      firstById.set(task.id, k);
      return;
    }
    const other = spec.pipeline.seedTasks[first];
    if (other.step === task.step) return;
    out.push(
      problemAt(
        ['pipeline', 'seedTasks', k, 'id'],
        task.id,
        `${JSON.stringify(task.id)} is already the id of pipeline.seedTasks[${first}] (step ${JSON.stringify(other.step)}); a seed's id is the id of the run it starts in the run ledger, so seed ids must be unique in the pipeline`,
        [
          ['pipeline', 'seedTasks', first, 'id'],
          ['pipeline', 'seedTasks', first, 'step'],
          ['pipeline', 'seedTasks', k, 'step'],
        ],
      ),
    );
  });
  return out;
}
