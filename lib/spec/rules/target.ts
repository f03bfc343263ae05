/** A step's `target`: where Cloud Tasks sends its tasks, with which method, headers and token. */
import { formatValue, under, type FieldPath, type Problem } from '../../core/problem';
import {
  HTTP_METHODS,
  LIMITS,
  headerProblems,
  isGoogleApisHost,
  targetUrlProblems,
} from '../../core/rules/cloud-tasks';
import { serviceAccountEmailProblems } from '../../core/rules/iam';
import { CLOUD_RUN_SERVICE_PATTERN } from '../formats';
import type { StepSpec } from '../types';
import { problemAt } from './context';

export function targetProblems(step: StepSpec, path: FieldPath): Problem[] {
  const t = step.target;
  const out: Problem[] = [];
  if (t.url === '' && !t.cloudRunJob && !t.vertexAI)
    return [
      {
        path: [...path, 'url'],
        message:
          "is required: the https URL of the step's worker (or make the step a job: cloudRunJob or vertexAI, docs/jobs.md)",
      },
    ];
  const urlProblems = targetUrlProblems(t.url);
  out.push(...under(path, urlProblems));

  if (!HTTP_METHODS.includes(t.method))
    out.push(
      problemAt(
        [...path, 'method'],
        t.method,
        `${JSON.stringify(t.method)} is not an HTTP method Cloud Tasks supports: ${HTTP_METHODS.join(', ')}`,
      ),
    );

  // target.proto OAuthToken: "should only be used when sending HTTP requests to *.googleapis.com".
  if (t.auth === 'oauth' && urlProblems.length === 0) {
    const host = new URL(t.url).hostname;
    if (!isGoogleApisHost(host))
      out.push(
        problemAt(
          [...path, 'auth'],
          t.auth,
          `oauth tokens are only for Google APIs on *.googleapis.com, and ${host} is not one: use auth: oidc (Cloud Run, Cloud Functions, your own endpoints)`,
          [[...path, 'url']],
        ),
      );
  }
  if (t.audience !== undefined) {
    if (t.auth !== 'oidc')
      out.push(
        problemAt(
          [...path, 'audience'],
          t.audience,
          `audience is only used with auth: oidc, and this target uses auth: ${t.auth}`,
        ),
      );
    else out.push(...under(path, targetUrlProblems(t.audience, ['audience'])));
  }
  if (t.scope !== undefined) {
    if (t.auth !== 'oauth')
      out.push(
        problemAt(
          [...path, 'scope'],
          t.scope,
          `scope is only used with auth: oauth, and this target uses auth: ${t.auth}`,
        ),
      );
    else out.push(...under(path, targetUrlProblems(t.scope, ['scope'])));
  }

  out.push(...under(path, headerProblems(t.headers)));

  if (t.serviceAccount !== undefined)
    out.push(...serviceAccountEmailProblems(t.serviceAccount, [...path, 'serviceAccount']));
  if (t.cloudRun) {
    if (!CLOUD_RUN_SERVICE_PATTERN.test(t.cloudRun.service))
      out.push(
        problemAt(
          [...path, 'cloudRun', 'service'],
          t.cloudRun.service,
          `${formatValue(t.cloudRun.service)} is not a Cloud Run service name: at most 49 lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen`,
        ),
      );
    if (!LIMITS.locationPattern.test(t.cloudRun.region))
      out.push(
        problemAt(
          [...path, 'cloudRun', 'region'],
          t.cloudRun.region,
          `${JSON.stringify(t.cloudRun.region)} is not a region name such as us-central1`,
        ),
      );
  }
  return out;
}
