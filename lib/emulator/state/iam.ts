/**
 * Queue IAM policies (google/iam/v1 GetIamPolicy, SetIamPolicy, TestIamPermissions): stored and returned with an
 * etag, so IaC tools and tests that set queue IAM work. Nothing is enforced: the emulator has no callers' identities.
 *
 * iam/v1/policy.proto: a policy never set reads as `{ version: 0? , etag: "ACAB" }`-like empty policy with an etag; a
 * SetIamPolicy whose etag differs from the current one fails with ABORTED (optimistic concurrency, "read-modify-write
 * cycle"); each write gets a new etag. TestIamPermissions returns the requested permissions that are Cloud Tasks
 * queue permissions (the emulator grants everything).
 */
import { createHash } from 'node:crypto';
import { Code, EmulatorError, invalidArgument } from '../errors';

export interface IamBinding {
  readonly role: string;
  readonly members: readonly string[];
  readonly condition?: { readonly expression?: string; readonly title?: string; readonly description?: string };
}

export interface IamPolicy {
  /** 1 or 3 (3 when a binding has a condition). */
  readonly version: number;
  readonly bindings: readonly IamBinding[];
  /** base64 of 8 bytes; changes on every write. */
  readonly etag: string;
}

/** iam/v1/policy.proto: roles look like `roles/...`, `projects/.../roles/...` or `organizations/.../roles/...`. */
const ROLE = /^(roles|projects\/[^/]+\/roles|organizations\/[^/]+\/roles)\/[A-Za-z0-9_.]+$/;
/** Members: `user:`, `serviceAccount:`, `group:`, `domain:`, `principal://`, `principalSet://`, allUsers, ... */
const MEMBER =
  /^(allUsers|allAuthenticatedUsers|(user|serviceAccount|group|domain|deleted:user|deleted:serviceAccount|deleted:group|projectOwner|projectEditor|projectViewer):.+|principal(Set)?:\/\/.+)$/;

/** Permissions TestIamPermissions knows for a queue (Cloud Tasks IAM permissions reference). */
const QUEUE_PERMISSIONS = new Set([
  'cloudtasks.queues.get',
  'cloudtasks.queues.list',
  'cloudtasks.queues.update',
  'cloudtasks.queues.delete',
  'cloudtasks.queues.pause',
  'cloudtasks.queues.resume',
  'cloudtasks.queues.purge',
  'cloudtasks.queues.getIamPolicy',
  'cloudtasks.queues.setIamPolicy',
  'cloudtasks.tasks.create',
  'cloudtasks.tasks.delete',
  'cloudtasks.tasks.get',
  'cloudtasks.tasks.list',
  'cloudtasks.tasks.run',
  'cloudtasks.tasks.buffer',
]);

/** The etag of a policy that was never set, so a first SetIamPolicy with the etag it read succeeds. */
export const EMPTY_POLICY_ETAG = Buffer.from([0, 1, 0, 0, 0, 0, 0, 0]).toString('base64');

export const emptyPolicy = (): IamPolicy => ({ version: 1, bindings: [], etag: EMPTY_POLICY_ETAG });

/** Validates a SetIamPolicy request and returns the stored policy (with a new etag). */
export function nextPolicy(current: IamPolicy, requested: Partial<IamPolicy>, seq: number): IamPolicy {
  if (requested.etag && requested.etag !== current.etag)
    throw new EmulatorError(
      Code.ABORTED,
      `There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff. (policy.etag = "${requested.etag}", current etag "${current.etag}")`,
    );
  const bindings = (requested.bindings ?? []).filter((b) => (b.members ?? []).length > 0);
  for (const [i, b] of bindings.entries()) {
    if (!ROLE.test(b.role ?? ''))
      throw invalidArgument(
        `policy.bindings[${i}].role = "${b.role ?? ''}": a role looks like roles/cloudtasks.enqueuer`,
        [{ field: `policy.bindings[${i}].role`, description: 'not a role name' }],
      );
    for (const [j, m] of b.members.entries())
      if (!MEMBER.test(m))
        throw invalidArgument(
          `policy.bindings[${i}].members[${j}] = "${m}": a member looks like user:, serviceAccount:, group: or domain: followed by an identity`,
          [{ field: `policy.bindings[${i}].members[${j}]`, description: 'not an IAM member' }],
        );
  }
  const version = bindings.some((b) => b.condition) ? 3 : Math.max(1, requested.version ?? 1);
  const etag = createHash('sha256')
    .update(`${seq}:${JSON.stringify(bindings)}`)
    .digest()
    .subarray(0, 8)
    .toString('base64');
  return { version, bindings: bindings.map((b) => ({ ...b, members: [...b.members] })), etag };
}

export function testedPermissions(requested: readonly string[]): string[] {
  return requested.filter((p) => QUEUE_PERMISSIONS.has(p));
}
