/**
 * Placing problems in the spec file: file, line and column for each, and the order a reader fixes them in. Also the
 * follow-on filter: a rule whose path or inputs failed an earlier check says nothing new, so it is dropped.
 */
import { byPosition, displayFile, isAtOrUnder, type FieldPath, type Problem } from '../core/problem';
import type { Locate } from './source';

/** Where problems are located: the spec file as messages name it, and its locator. */
export interface SpecSourceInfo {
  /** The spec file, for messages (made relative to the working directory). */
  readonly file?: string;
  readonly locate?: Locate;
}

/** `problems` without those whose path or inputs lie at or under a `broken` path. */
export function withoutFollowOns(problems: readonly Problem[], broken: readonly FieldPath[]): Problem[] {
  const touches = (p: Problem): boolean =>
    [p.path, ...(p.inputs ?? [])].some((used) => broken.some((b) => isAtOrUnder(used, b)));
  return problems.filter((p) => !touches(p));
}

/** Attaches file and line:column, and orders each stage's problems by position in the file. */
export function locateAll(stages: readonly (readonly Problem[])[], source: SpecSourceInfo): Problem[] {
  const file = source.file !== undefined ? displayFile(source.file) : undefined;
  return stages.flatMap((stage) =>
    stage
      .map((p) => ({
        ...p,
        ...(file !== undefined ? { file } : {}),
        ...nearest(p.path, source.locate, p.atKey ? 'key' : 'value'),
      }))
      .sort(byPosition),
  );
}

/** The position of the path, or of its nearest ancestor present in the file (a missing key points at its parent). */
export function nearest(
  fieldPath: FieldPath,
  locate: Locate | undefined,
  at: 'key' | 'value' = 'value',
): { line?: number; column?: number } {
  if (!locate) return {};
  for (let n = fieldPath.length; n >= 0; n--) {
    const found = locate(fieldPath.slice(0, n), n === fieldPath.length ? at : 'value');
    if (found) return found;
  }
  return {};
}
