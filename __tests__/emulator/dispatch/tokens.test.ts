/**
 * The token issuer signs a token per account and audience (or scope) once and reuses it until it nears expiry, as
 * Google's token service does; dispatches ask `readyAuthorization` first and sign only when it has nothing.
 * Time is a ManualClock, so expiry is reached by advancing it.
 */
import { ManualClock } from '../../../lib/emulator/clock';
import { TOKEN_LIFETIME_SECONDS, TokenIssuer } from '../../../lib/emulator/dispatch/oidc';
import type { DispatchToken } from '../../../lib/emulator/dispatch/target';

const EMAIL = 'invoker@acme-ml-dev.iam.gserviceaccount.com';
const oidc = (audience: string): DispatchToken => ({ kind: 'oidc', serviceAccountEmail: EMAIL, audience });
const claims = (header: string): { aud: string; iat: number; exp: number } =>
  JSON.parse(Buffer.from(header.replace(/^Bearer /, '').split('.')[1], 'base64url').toString());

let clock: ManualClock;
let issuer: TokenIssuer;
beforeEach(async () => {
  clock = new ManualClock();
  issuer = await TokenIssuer.start({ clock });
});
afterEach(() => issuer.close());

test('GIVEN no token yet THEN readyAuthorization has none; concurrent dispatches share one signature, then it is ready', async () => {
  const token = oidc('https://train.example.com/tasks');
  expect(issuer.readyAuthorization(token)).toBeUndefined();
  // RS256 signatures are deterministic, so equal headers alone would not show that only one was made.
  const sign = jest.spyOn(issuer as unknown as { sign: () => Promise<unknown> }, 'sign');
  const [a, b] = await Promise.all([issuer.authorization(token), issuer.authorization(token)]);
  expect(sign).toHaveBeenCalledTimes(1);
  expect(b).toBe(a);
  await issuer.authorization(token);
  expect(sign).toHaveBeenCalledTimes(1);
  expect(issuer.readyAuthorization(token)).toBe(a);
  expect(claims(a).aud).toBe('https://train.example.com/tasks');
});

test('GIVEN another audience THEN another token', async () => {
  const a = await issuer.authorization(oidc('https://train.example.com/tasks'));
  const b = await issuer.authorization(oidc('https://eval.example.com/tasks'));
  expect(b).not.toBe(a);
  expect(claims(b).aud).toBe('https://eval.example.com/tasks');
});

test('GIVEN a token within 5 minutes of expiry THEN it is not reused: a fresh one is signed', async () => {
  const token = oidc('https://train.example.com/tasks');
  const first = await issuer.authorization(token);
  clock.advance((TOKEN_LIFETIME_SECONDS - 301) * 1000);
  expect(issuer.readyAuthorization(token)).toBe(first);
  clock.advance(2000);
  expect(issuer.readyAuthorization(token)).toBeUndefined();
  const second = await issuer.authorization(token);
  expect(second).not.toBe(first);
  expect(claims(second).iat).toBe(claims(first).iat + TOKEN_LIFETIME_SECONDS - 299);
  expect(issuer.readyAuthorization(token)).toBe(second);
});

test('OAuth tokens are ready after the first dispatch, per scope', async () => {
  const token: DispatchToken = {
    kind: 'oauth',
    serviceAccountEmail: EMAIL,
    scope: 'https://www.googleapis.com/auth/cloud-platform',
  };
  expect(issuer.readyAuthorization(token)).toBeUndefined();
  const header = await issuer.authorization(token);
  expect(header).toMatch(/^Bearer emulator-oauth-token\./);
  expect(issuer.readyAuthorization(token)).toBe(header);
  expect(await issuer.authorization({ ...token, scope: 'https://www.googleapis.com/auth/other' })).not.toBe(header);
});

test('GIVEN a signature that fails THEN the failure is not kept: the next dispatch signs again', async () => {
  const token = oidc('https://train.example.com/tasks');
  const sign = jest
    .spyOn(issuer as unknown as { sign: () => Promise<unknown> }, 'sign')
    .mockRejectedValueOnce(new Error('key unavailable'));
  await expect(issuer.authorization(token)).rejects.toThrow('key unavailable');
  expect(issuer.readyAuthorization(token)).toBeUndefined();
  expect(claims(await issuer.authorization(token)).aud).toBe('https://train.example.com/tasks');
  expect(sign).toHaveBeenCalledTimes(2);
});
