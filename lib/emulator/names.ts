/**
 * Cloud Tasks resource names: `projects/P/locations/L`, `.../queues/Q`, `.../queues/Q/tasks/T`.
 * Parsing validates every segment against lib/core/rules/cloud-tasks.ts and throws INVALID_ARGUMENT naming the request
 * field, the value and the expected format.
 */
import { LIMITS, queueIdProblems, taskIdProblems } from '../core/rules/cloud-tasks';
import { invalidArgument, throwProblems } from './errors';

export interface LocationName {
  readonly project: string;
  readonly location: string;
  /** `projects/P/locations/L` */
  readonly name: string;
}

export interface QueueName extends LocationName {
  readonly queueId: string;
  /** `projects/P/locations/L/queues/Q` */
  readonly queueName: string;
}

export interface TaskName extends QueueName {
  readonly taskId: string;
  /** `projects/P/locations/L/queues/Q/tasks/T` */
  readonly taskName: string;
}

const LOCATION_FORMAT = 'projects/<PROJECT_ID>/locations/<LOCATION_ID>';
const QUEUE_FORMAT = `${LOCATION_FORMAT}/queues/<QUEUE_ID>`;
const TASK_FORMAT = `${QUEUE_FORMAT}/tasks/<TASK_ID>`;

export function parseLocationName(value: string | undefined, field: string): LocationName {
  const parts = (value ?? '').split('/');
  if (parts.length !== 4 || parts[0] !== 'projects' || parts[2] !== 'locations')
    throw malformed(field, value, LOCATION_FORMAT);
  return checkLocation(parts[1], parts[3], field, value);
}

export function parseQueueName(value: string | undefined, field: string): QueueName {
  const parts = (value ?? '').split('/');
  if (parts.length !== 6 || parts[0] !== 'projects' || parts[2] !== 'locations' || parts[4] !== 'queues')
    throw malformed(field, value, QUEUE_FORMAT);
  const loc = checkLocation(parts[1], parts[3], field, value);
  throwProblems(field.split('.'), queueIdProblems(parts[5], ['QUEUE_ID']));
  return { ...loc, queueId: parts[5], queueName: value as string };
}

export function parseTaskName(value: string | undefined, field: string): TaskName {
  const parts = (value ?? '').split('/');
  if (
    parts.length !== 8 ||
    parts[0] !== 'projects' ||
    parts[2] !== 'locations' ||
    parts[4] !== 'queues' ||
    parts[6] !== 'tasks'
  )
    throw malformed(field, value, TASK_FORMAT);
  const loc = checkLocation(parts[1], parts[3], field, value);
  throwProblems(field.split('.'), queueIdProblems(parts[5], ['QUEUE_ID']));
  throwProblems(field.split('.'), taskIdProblems(parts[7], ['TASK_ID']));
  return {
    ...loc,
    queueId: parts[5],
    queueName: parts.slice(0, 6).join('/'),
    taskId: parts[7],
    taskName: value as string,
  };
}

/** `-` for PROJECT_ID or LOCATION_ID: any (AIP-159, reading across collections). */
export const ANY = '-';

/**
 * Like parseLocationName, but PROJECT_ID and LOCATION_ID may each be `-` (ANY): `projects/-/locations/-` names every
 * location. An emulator extension for ListQueues, so a tool can list everything in the emulator without knowing the
 * projects (the service itself has no such wildcard for queues).
 */
export function parseLocationPattern(value: string | undefined, field: string): LocationName {
  const parts = (value ?? '').split('/');
  if (parts.length !== 4 || parts[0] !== 'projects' || parts[2] !== 'locations')
    throw malformed(field, value, LOCATION_FORMAT);
  if (parts[1] !== ANY) checkProject(parts[1], field, value);
  if (parts[3] !== ANY) checkLocationId(parts[3], field, value);
  return { project: parts[1], location: parts[3], name: `projects/${parts[1]}/locations/${parts[3]}` };
}

function checkLocation(project: string, location: string, field: string, value: string | undefined): LocationName {
  checkProject(project, field, value);
  checkLocationId(location, field, value);
  return { project, location, name: `projects/${project}/locations/${location}` };
}

function checkProject(project: string, field: string, value: string | undefined): void {
  if (!LIMITS.resourceProjectIdPattern.test(project))
    throw invalidArgument(
      `${field} = ${JSON.stringify(value)}: PROJECT_ID "${project}" may contain only letters, digits, hyphens, colons and periods`,
    );
}

function checkLocationId(location: string, field: string, value: string | undefined): void {
  if (!LIMITS.locationPattern.test(location))
    throw invalidArgument(
      `${field} = ${JSON.stringify(value)}: LOCATION_ID "${location}" is not a Cloud Tasks location such as us-central1`,
    );
}

function malformed(field: string, value: string | undefined, format: string) {
  return value
    ? invalidArgument(`${field} = ${JSON.stringify(value)}: must be formatted "${format}"`)
    : invalidArgument(`${field} is required, formatted "${format}"`);
}
