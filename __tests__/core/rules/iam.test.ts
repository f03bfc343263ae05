/** One IAM member rule for the spec's deployer and the constructs' grant methods. */
import { iamMemberProblems, serviceAccountEmailProblems } from '../../../lib/core/rules/iam';

describe('iamMemberProblems', () => {
  test.each([
    'serviceAccount:deployer@acme-ml-prod.iam.gserviceaccount.com',
    'serviceAccount:123456-compute@developer.gserviceaccount.com',
    'user:alice@example.com',
    'group:ml-deployers@example.com',
    'domain:example.com',
    'principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/gh/attribute.repository/acme/ml',
  ])('%s is a member', (member) => {
    expect(iamMemberProblems(member)).toEqual([]);
  });

  test.each([
    ['serviceAccount:x', /serviceAccount: takes a service account e-mail/],
    ['serviceAccount:alice@example.com', /a service account e-mail ends in \.gserviceaccount\.com/],
    [
      'w@p.iam.gserviceaccount.com',
      /a bare e-mail needs its IAM type; write serviceAccount:w@p\.iam\.gserviceaccount\.com/,
    ],
    ['allUsers', /would give the role to anyone/],
    ['allAuthenticatedUsers', /would give the role to anyone/],
    ['Group:ml@example.com', /IAM types are case-sensitive; write group:ml@example\.com/],
  ])('%s is refused with the fix', (member, message) => {
    const [p] = iamMemberProblems(member, ['deployer', 0]);
    expect(p).toMatchObject({ path: ['deployer', 0], value: member });
    expect(p.message).toMatch(message);
  });
});

test('a service account e-mail ends in .gserviceaccount.com', () => {
  expect(serviceAccountEmailProblems('train-worker@acme-ml-dev.iam.gserviceaccount.com')).toEqual([]);
  expect(serviceAccountEmailProblems('alice@example.com', ['serviceAccount'])).toEqual([
    {
      path: ['serviceAccount'],
      value: 'alice@example.com',
      message:
        '"alice@example.com" is not a service account e-mail: write e.g. worker@my-project.iam.gserviceaccount.com',
    },
  ]);
});
