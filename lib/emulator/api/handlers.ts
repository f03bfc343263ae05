/**
 * The Cloud Tasks v2 methods (and the Locations mixin), independent of the transport: each takes the decoded request
 * message (a plain object, lib/emulator/protos.ts OBJECT_OPTIONS) and returns the response message, or throws an
 * EmulatorError. The gRPC face (grpc.ts) and the REST face (rest.ts) both call these, on one EmulatorState, so a
 * call has the same result whichever protocol made it.
 */
import { HTTP_METHODS, LIMITS, type HttpMethod } from '../../core/rules/cloud-tasks';
import { Code, EmulatorError, invalidArgument } from '../errors';
import { ANY, parseLocationName } from '../names';
import type { EmulatorState, IamPolicy } from '../state';
import {
  applyReadMask,
  queueInputFromMessage,
  queueToMessage,
  taskInputFromMessage,
  taskToMessage,
  viewOf,
  type QueueMessage,
  type TaskMessage,
} from './convert';

export type Request = Record<string, unknown>;

/** What a transport knows about the call beyond its message. */
export interface CallContext {
  /** REST: the HTTP method of the request (BufferTask makes a task with it). */
  readonly httpMethod?: string;
}

export type Handler = (request: Request, context: CallContext) => unknown;

export interface ApiOptions {
  /** Fraction (0..1) of CreateTask (and BufferTask) calls refused with UNAVAILABLE before any state change. @default 0 */
  readonly failRate?: number;
  /** Source of randomness for failRate. @default Math.random */
  readonly random?: () => number;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
/** proto3 JSON omits a default string: an empty next_page_token is left out, as the service leaves it out. */
const page = (token: string): { nextPageToken?: string } => (token ? { nextPageToken: token } : {});
const maskPaths = (v: unknown): string[] | undefined => (v as { paths?: string[] } | undefined)?.paths;

/** google/iam/v1 Policy message <-> IamPolicy (etag is bytes on the wire, base64 in the store). */
function policyToMessage(p: IamPolicy): Request {
  return { version: p.version, bindings: p.bindings, etag: Buffer.from(p.etag, 'base64') };
}

function policyFromMessage(m: Request | undefined): Partial<IamPolicy> {
  const etag = m?.etag as Uint8Array | undefined;
  return {
    ...(typeof m?.version === 'number' ? { version: m.version } : {}),
    bindings: ((m?.bindings as IamPolicy['bindings'] | undefined) ?? []).map((b) => ({
      role: b.role ?? '',
      members: b.members ?? [],
      ...(b.condition ? { condition: b.condition } : {}),
    })),
    ...(etag && etag.byteLength > 0 ? { etag: Buffer.from(etag).toString('base64') } : {}),
  };
}

function location(name: string): Request {
  const locationId = name.slice(name.lastIndexOf('/') + 1);
  return { name, locationId, displayName: locationId, labels: { 'cloud.googleapis.com/region': locationId } };
}

/** Every method, by its proto name (`CreateTask`), for the CloudTasks service and the Locations mixin. */
export function cloudTasksMethods(state: EmulatorState, options: ApiOptions = {}): Record<string, Handler> {
  const failRate = options.failRate ?? 0;
  const random = options.random ?? Math.random;
  const injectFailure = (): void => {
    // Injected failures come before any state change, so the caller's retry is always safe.
    if (failRate > 0 && random() < failRate)
      throw new EmulatorError(
        Code.UNAVAILABLE,
        `injected failure (fail rate ${failRate}): nothing was stored, retry the call`,
      );
  };

  return {
    ListQueues: (req) => {
      const { queues, nextPageToken } = state.listQueues(str(req.parent), {
        pageSize: num(req.pageSize),
        pageToken: str(req.pageToken),
        filter: str(req.filter),
      });
      const mask = maskPaths(req.readMask);
      return { queues: queues.map((q) => applyReadMask(queueToMessage(q), mask)), ...page(nextPageToken) };
    },
    GetQueue: (req) => applyReadMask(queueToMessage(state.getQueue(str(req.name))), maskPaths(req.readMask)),
    CreateQueue: (req) =>
      queueToMessage(state.createQueue(str(req.parent), queueInputFromMessage(req.queue as QueueMessage | undefined))),
    UpdateQueue: (req) =>
      queueToMessage(
        state.updateQueue(
          queueInputFromMessage(req.queue as QueueMessage | undefined),
          maskPaths(req.updateMask) ?? [],
        ),
      ),
    DeleteQueue: (req) => {
      state.deleteQueue(str(req.name));
      return {};
    },
    PurgeQueue: (req) => queueToMessage(state.purgeQueue(str(req.name))),
    PauseQueue: (req) => queueToMessage(state.pauseQueue(str(req.name))),
    ResumeQueue: (req) => queueToMessage(state.resumeQueue(str(req.name))),
    GetIamPolicy: (req) => policyToMessage(state.getIamPolicy(str(req.resource))),
    SetIamPolicy: (req) =>
      policyToMessage(state.setIamPolicy(str(req.resource), policyFromMessage(req.policy as Request | undefined))),
    TestIamPermissions: (req) => ({
      permissions: state.testIamPermissions(str(req.resource), (req.permissions as string[] | undefined) ?? []),
    }),
    ListTasks: (req) => {
      const view = viewOf(req.responseView);
      const { tasks, nextPageToken } = state.listTasks(str(req.parent), {
        pageSize: num(req.pageSize),
        pageToken: str(req.pageToken),
      });
      return { tasks: tasks.map((t) => taskToMessage(t, view)), ...page(nextPageToken) };
    },
    GetTask: (req) => taskToMessage(state.getTask(str(req.name)), viewOf(req.responseView)),
    CreateTask: (req) => {
      injectFailure();
      const task = state.createTask(str(req.parent), taskInputFromMessage(req.task as TaskMessage | undefined));
      return taskToMessage(task, viewOf(req.responseView));
    },
    BufferTask: (req, context) => {
      injectFailure();
      const method = (context.httpMethod ?? 'POST').toUpperCase();
      if (!(HTTP_METHODS as readonly string[]).includes(method))
        throw invalidArgument(`BufferTask with HTTP method ${method}: use one of ${HTTP_METHODS.join(', ')}`);
      const body = req.body as { contentType?: string; data?: Uint8Array } | undefined;
      const task = state.bufferTask(str(req.queue), str(req.taskId) || undefined, {
        httpMethod: method as HttpMethod,
        ...(body?.contentType ? { contentType: body.contentType } : {}),
        ...(body?.data ? { data: body.data } : {}),
      });
      return { task: taskToMessage(task, 'BASIC') };
    },
    DeleteTask: (req) => {
      state.deleteTask(str(req.name));
      return {};
    },
    RunTask: (req) => taskToMessage(state.runTask(str(req.name)), viewOf(req.responseView)),

    // google.cloud.location.Locations. The emulator serves any location id; ListLocations names the ones that
    // hold queues (and us-central1), as a project's real list depends on where Cloud Tasks runs.
    ListLocations: (req) => {
      const project = str(req.name);
      if (!/^projects\/[^/]+$/.test(project))
        throw invalidArgument(`name = "${project}": must be formatted "projects/<PROJECT_ID>"`);
      const ids = new Set(['us-central1']);
      for (const q of state.queues()) if (q.location.startsWith(`${project}/`)) ids.add(q.location.split('/')[3]);
      const pageSize = num(req.pageSize) || LIMITS.maxListQueuesPageSize;
      const all = [...ids].sort().map((id) => location(`${project}/locations/${id}`));
      return { locations: all.slice(0, pageSize) };
    },
    GetLocation: (req) => {
      const loc = parseLocationName(str(req.name), 'name');
      if (loc.project === ANY) throw invalidArgument('name: a location needs a project id, not "-"');
      return location(loc.name);
    },
  };
}
