/**
 * Resource Manager rules: Google Cloud project ids. Checked once here, for the spec, the constructs and the seed
 * manifest alike.
 */
import type { FieldPath, Problem } from '../problem';

/**
 * Project ids (Resource Manager, "Creating and managing projects": project ID requirements): 6-30 characters,
 * lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen.
 */
export const PROJECT_ID_PATTERN = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;

export function projectIdProblems(project: string, at: FieldPath = ['project']): Problem[] {
  if (PROJECT_ID_PATTERN.test(project)) return [];
  return [
    {
      path: at,
      value: project,
      message: `${JSON.stringify(project)} is not a valid Google Cloud project id: 6-30 lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen`,
    },
  ];
}
