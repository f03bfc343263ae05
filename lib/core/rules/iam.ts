/**
 * IAM rules: principal identifiers (allow-policy `member`s) and service account e-mails. One pattern and one message
 * for the spec (`deployer`, `target.serviceAccount`), the constructs' grant methods and anything else that names an
 * identity, so what the spec refuses the constructs refuse too, with the same fix.
 */
import { formatValue, type FieldPath, type Problem } from '../problem';

/** An e-mail address, as `user:` and `group:` members take it. */
export const EMAIL_PATTERN = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

/**
 * A service account e-mail: every one ends in `.gserviceaccount.com` (user-managed
 * `name@project.iam.gserviceaccount.com`, default and Google-managed accounts alike).
 */
export const SERVICE_ACCOUNT_EMAIL_PATTERN = /^[^@\s]+@[^@\s]+\.gserviceaccount\.com$/;

/**
 * IAM principal identifiers (IAM docs, "Principal identifiers") that can be granted a role on one of our resources.
 * The type prefix is case-sensitive, as IAM reads it. `allUsers` and `allAuthenticatedUsers` are left out on purpose:
 * every grant this project makes (actAs on the invoker, enqueue on a queue) would then be open to anyone.
 */
export const IAM_MEMBER_TYPES = ['serviceAccount', 'user', 'group', 'domain', 'principal', 'principalSet'] as const;
export const IAM_MEMBER_PATTERN = new RegExp(
  '^(?:' +
    [
      `serviceAccount:${SERVICE_ACCOUNT_EMAIL_PATTERN.source.slice(1, -1)}`,
      `(?:user|group):${EMAIL_PATTERN.source.slice(1, -1)}`,
      'domain:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+',
      'principal(?:Set)?:\\/\\/[^/\\s]+\\/\\S+',
    ].join('|') +
    ')$',
);
export const IAM_MEMBER_FORMAT_HINT =
  'serviceAccount:<email>, user:<email>, group:<email>, domain:<domain>, principal://... or principalSet://...';

/** `member` must be an IAM principal identifier (IAM_MEMBER_PATTERN); the message names the fix for the usual slips. */
export function iamMemberProblems(member: string, at: FieldPath = []): Problem[] {
  if (IAM_MEMBER_PATTERN.test(member)) return [];
  return [{ path: at, value: member, message: iamMemberMessage(member) }];
}

/** Why `member` is not an IAM member, and what to write instead. */
function iamMemberMessage(member: string): string {
  const v = formatValue(member);
  const notMember = `${v} is not an IAM member`;
  if (member === 'allUsers' || member === 'allAuthenticatedUsers')
    return `${v} would give the role to anyone: name the identities that need it (${IAM_MEMBER_FORMAT_HINT})`;
  const colon = member.indexOf(':');
  if (colon < 0 && EMAIL_PATTERN.test(member)) {
    // A bare e-mail is the usual slip (IAM needs the type prefix); only a service account's ends in .gserviceaccount.com.
    const fix = SERVICE_ACCOUNT_EMAIL_PATTERN.test(member)
      ? `write serviceAccount:${member}`
      : `write user:${member} (a person) or group:${member} (a Google group)`;
    return `${notMember}: a bare e-mail needs its IAM type; ${fix}`;
  }
  const type = colon < 0 ? '' : member.slice(0, colon);
  const rest = colon < 0 ? member : member.slice(colon + 1);
  const known = IAM_MEMBER_TYPES.find((t) => t === type);
  const caseSlip = known ? undefined : IAM_MEMBER_TYPES.find((t) => t.toLowerCase() === type.toLowerCase());
  if (caseSlip) return `${notMember}: IAM types are case-sensitive; write ${caseSlip}:${rest}`;
  if (known === 'serviceAccount') {
    if (EMAIL_PATTERN.test(rest))
      return `${notMember}: a service account e-mail ends in .gserviceaccount.com; for a person write user:${rest}`;
    return `${notMember}: serviceAccount: takes a service account e-mail, e.g. serviceAccount:deployer@my-project.iam.gserviceaccount.com`;
  }
  if (known === 'user' || known === 'group')
    return `${notMember}: ${known}: takes an e-mail address, e.g. ${known}:${known === 'user' ? 'alice' : 'ml-deployers'}@example.com`;
  if (known === 'domain') return `${notMember}: domain: takes a domain name, e.g. domain:example.com`;
  if (known)
    return `${notMember}: ${known}: takes a URI, e.g. ${known}://iam.googleapis.com/projects/<number>/locations/global/workloadIdentityPools/<pool>/...`;
  return `${notMember}: use ${IAM_MEMBER_FORMAT_HINT}`;
}

/** A service account e-mail (SERVICE_ACCOUNT_EMAIL_PATTERN), e.g. a worker's runtime identity. */
export function serviceAccountEmailProblems(email: string, at: FieldPath = []): Problem[] {
  if (SERVICE_ACCOUNT_EMAIL_PATTERN.test(email)) return [];
  return [
    {
      path: at,
      value: email,
      message: `${formatValue(email)} is not a service account e-mail: write e.g. worker@my-project.iam.gserviceaccount.com`,
    },
  ];
}
