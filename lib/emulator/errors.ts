/**
 * Errors the emulator returns, each with the canonical code the real service uses for the case, the service's public
 * message first (where it is known) with our detail appended, and the `google.rpc` details the service attaches:
 * `BadRequest` field violations for invalid arguments, `Help` links where a doc says what to do. The state throws
 * them; the gRPC face sends them as the call's status (details in `grpc-status-details-bin`), the REST face as
 * `{"error": {"code", "message", "status", "details"}}`, so both transports and in-process callers see one outcome.
 */
import { formatPath, formatProblem, under, type FieldPath, type Problem } from '../core/problem';

/** google/rpc/code.proto. Numbers, not grpc-js's enum, so the store does not load gRPC. */
export const Code = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
export type CodeName = keyof typeof Code;

const NAMES = Object.fromEntries(Object.entries(Code).map(([k, v]) => [v, k])) as Record<number, CodeName>;

/** The HTTP status of each code (google/rpc/code.proto "HTTP Mapping"), as Google's REST front end sends it. */
const HTTP_STATUS: Record<CodeName, number> = {
  OK: 200,
  CANCELLED: 499,
  UNKNOWN: 500,
  INVALID_ARGUMENT: 400,
  DEADLINE_EXCEEDED: 504,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  PERMISSION_DENIED: 403,
  RESOURCE_EXHAUSTED: 429,
  FAILED_PRECONDITION: 400,
  ABORTED: 409,
  OUT_OF_RANGE: 400,
  UNIMPLEMENTED: 501,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  DATA_LOSS: 500,
  UNAUTHENTICATED: 401,
};

export const codeName = (code: number): CodeName => NAMES[code] ?? 'UNKNOWN';
export const httpStatusOf = (code: number): number => HTTP_STATUS[codeName(code)];

/** google.rpc.BadRequest.FieldViolation: `field` is the request field path, e.g. `task.http_request.url`. */
export interface FieldViolation {
  readonly field: string;
  readonly description: string;
}

/** google.rpc.Help.Link */
export interface HelpLink {
  readonly description: string;
  readonly url: string;
}

export interface ErrorDetails {
  readonly fieldViolations?: readonly FieldViolation[];
  readonly links?: readonly HelpLink[];
}

export class EmulatorError extends Error {
  constructor(
    /** Canonical code (google/rpc/code.proto), the same number as gRPC's status. */
    readonly code: number,
    message: string,
    readonly details: ErrorDetails = {},
  ) {
    super(message);
    this.name = 'EmulatorError';
  }

  /** The code's name, e.g. "NOT_FOUND". */
  get codeName(): CodeName {
    return codeName(this.code);
  }

  get httpStatus(): number {
    return httpStatusOf(this.code);
  }
}

/** The service's public messages (recorded against the real API; docs/decisions/emulator.md), followed by our detail. */
export const SERVICE_TEXT = {
  queueNotFound:
    'Queue does not exist. If you just created the queue, wait at least a minute for the queue to initialize.',
  notFound: 'Requested entity was not found.',
  alreadyExists: 'Requested entity already exists',
  taskExistedRecently:
    'The task no longer exists, though a task with this name existed recently. The task either successfully completed or was deleted.',
  queueTombstone: 'The queue cannot be created because a queue with this name existed too recently.',
} as const;

export const HELP = {
  createQueue: {
    description: 'Creating Cloud Tasks queues',
    url: 'https://cloud.google.com/tasks/docs/creating-queues',
  },
  deleteQueue: {
    description: 'Deleting a queue: the tombstone window',
    url: 'https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues/delete',
  },
  quotas: { description: 'Cloud Tasks quotas and limits', url: 'https://cloud.google.com/tasks/docs/quotas' },
} as const;

export const invalidArgument = (message: string, fieldViolations: readonly FieldViolation[] = []): EmulatorError =>
  new EmulatorError(Code.INVALID_ARGUMENT, message, fieldViolations.length > 0 ? { fieldViolations } : {});
export const notFound = (message: string, links: readonly HelpLink[] = []): EmulatorError =>
  new EmulatorError(Code.NOT_FOUND, message, links.length > 0 ? { links } : {});
export const alreadyExists = (message: string, links: readonly HelpLink[] = []): EmulatorError =>
  new EmulatorError(Code.ALREADY_EXISTS, message, links.length > 0 ? { links } : {});
export const failedPrecondition = (message: string, links: readonly HelpLink[] = []): EmulatorError =>
  new EmulatorError(Code.FAILED_PRECONDITION, message, links.length > 0 ? { links } : {});

/**
 * Throws INVALID_ARGUMENT naming every broken rule: `<prefix>.<field> = <value>: <rule>`, with one BadRequest field
 * violation per rule. `prefix` is the request field path the problems are relative to (e.g. `queue.rateLimits`);
 * `rename` maps a rule's field name to the API's where they differ (`minBackoffSeconds` -> `minBackoff`).
 */
export function throwProblems(
  prefix: FieldPath,
  problems: readonly Problem[],
  rename: Readonly<Record<string, string>> = {},
): void {
  if (problems.length === 0) return;
  const renamed = under(
    prefix,
    problems.map((p) => ({ ...p, path: p.path.map((s) => (typeof s === 'string' ? (rename[s] ?? s) : s)) })),
  );
  const violations = renamed.map((p) => ({
    field: formatPath(p.path),
    description: formatProblem(p, { value: true }),
  }));
  throw invalidArgument(violations.map((v) => v.description).join('; '), violations);
}
