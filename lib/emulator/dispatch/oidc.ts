/**
 * The emulator's token service. Cloud Tasks attaches a Google-signed OIDC token (or an OAuth access token) to each
 * dispatch; the emulator cannot sign as Google, so it signs OIDC tokens with an RS256 key it generates at start and
 * publishes the public key, Google-style, over HTTP:
 *
 *   <issuer>/.well-known/openid-configuration   { issuer, jwks_uri, ... }
 *   <issuer>/.well-known/jwks.json              { keys: [ { kty: "RSA", kid, alg: "RS256", use: "sig", n, e } ] }
 *
 * A worker verifies the tokens exactly as in production (jose createRemoteJWKSet + jwtVerify), with the emulator's
 * issuer and JWKS URL instead of Google's. Claims follow Google's ID tokens for service accounts: iss, aud, azp,
 * sub, email, email_verified, iat, exp (1 hour).
 *
 * OAuth access tokens are opaque to their receiver (only Google APIs accept them), so the emulator sends a fake,
 * recognisable one: `emulator-oauth-token.<base64url(service account)>.<first 12 hex of sha256(scope)>`.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { Clock } from '../clock';
import type { DispatchToken } from './target';

type Jose = typeof import('jose');
type JWK = import('jose').JWK;
type Key = import('jose').CryptoKey;

export interface TokenIssuerOptions {
  /** Interface of the JWKS server. @default '127.0.0.1' */
  readonly host?: string;
  /** Port of the JWKS server; 0 picks a free one. @default 0 */
  readonly port?: number;
  /** @default systemClock */
  readonly clock: Clock;
}

/** Google's ID tokens last one hour. */
export const TOKEN_LIFETIME_SECONDS = 3600;
/** A cached token is re-signed when less than this is left, so a worker never receives one about to expire. */
const REFRESH_BEFORE_EXPIRY_SECONDS = 300;

/**
 * Signing RS256 costs about a millisecond of CPU; at 500 dispatches/s that would be half a core. Like Google's
 * token service, the issuer reuses a token for the same account and audience until it nears expiry.
 */
interface CachedToken {
  /** `Bearer <token>`, once signed. */
  header?: string;
  expiresAtMs: number;
  /** The signature under way: concurrent dispatches wait for the same one. */
  signing?: Promise<string>;
}

export class TokenIssuer {
  /** `http://127.0.0.1:<port>`: the `iss` claim and the base of the discovery URLs. */
  readonly issuer: string;
  readonly jwksUri: string;
  /**
   * Tokens by kind, account, then audience (OIDC) or scope (OAuth): nested maps look up the task's own strings, where
   * one map would hash a concatenated key on every dispatch.
   */
  private readonly cache = {
    oidc: new Map<string, Map<string, CachedToken>>(),
    oauth: new Map<string, Map<string, CachedToken>>(),
  };

  private constructor(
    private readonly jose: Jose,
    private readonly privateKey: Key,
    private readonly publicJwk: JWK,
    private readonly server: Server,
    private readonly clock: Clock,
    host: string,
    port: number,
  ) {
    this.issuer = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    this.jwksUri = `${this.issuer}/.well-known/jwks.json`;
  }

  /** Generates the signing key and starts serving the discovery document and the JWKS. */
  static async start(options: TokenIssuerOptions): Promise<TokenIssuer> {
    const jose = await loadJose();
    const { privateKey, publicKey } = await jose.generateKeyPair('RS256');
    const publicJwk: JWK = { ...(await jose.exportJWK(publicKey)), kid: randomUUID(), alg: 'RS256', use: 'sig' };
    const host = options.host ?? '127.0.0.1';
    // Assigned once the server exists: the request handler reads it, so it cannot be a const declared after it.
    // eslint-disable-next-line prefer-const
    let issuer: TokenIssuer | undefined;
    const server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      const body =
        path === '/.well-known/jwks.json'
          ? { keys: [publicJwk] }
          : path === '/.well-known/openid-configuration' && issuer
            ? issuer.discoveryDocument()
            : undefined;
      if (req.method !== 'GET' || body === undefined) {
        res
          .writeHead(404, { 'content-type': 'application/json' })
          .end('{"error":"not found: use /.well-known/jwks.json or /.well-known/openid-configuration"}');
        return;
      }
      res
        .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=300' })
        .end(JSON.stringify(body));
    });
    // Keep-alive sockets from workers' JWKS fetchers must not hold the server open at stop().
    server.keepAliveTimeout = 1000;
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => resolve((server.address() as { port: number }).port));
    });
    server.unref();
    issuer = new TokenIssuer(jose, privateKey, publicJwk, server, options.clock, host, port);
    return issuer;
  }

  discoveryDocument(): Record<string, unknown> {
    return {
      issuer: this.issuer,
      jwks_uri: this.jwksUri,
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
      claims_supported: ['aud', 'azp', 'email', 'email_verified', 'exp', 'iat', 'iss', 'sub'],
    };
  }

  /** The public key set, as served at jwksUri. */
  jwks(): { keys: JWK[] } {
    return { keys: [this.publicJwk] };
  }

  /** The `Authorization` header value for a dispatch carrying `token`. */
  authorization(token: DispatchToken): Promise<string> {
    const ready = this.readyAuthorization(token);
    if (ready !== undefined) return Promise.resolve(ready);
    const entry = this.entryFor(token);
    // A failed signature is not kept: the next dispatch tries again.
    entry.signing ??= this.sign(token)
      .then(({ header, expiresAtMs }) => {
        entry.header = header;
        entry.expiresAtMs = expiresAtMs;
        return header;
      })
      .finally(() => (entry.signing = undefined));
    return entry.signing;
  }

  /**
   * The header at once when a token for this account and audience (or scope) is signed and not near expiry, else
   * undefined (then `authorization` signs one). The dispatcher asks this first: at thousands of dispatches a second,
   * awaiting a settled promise per attempt is measurable.
   */
  readyAuthorization(token: DispatchToken): string | undefined {
    const entry = this.cache[token.kind].get(token.serviceAccountEmail)?.get(audienceOrScope(token));
    if (entry?.header === undefined || entry.expiresAtMs - this.clock.now() < REFRESH_BEFORE_EXPIRY_SECONDS * 1000)
      return undefined;
    return entry.header;
  }

  private entryFor(token: DispatchToken): CachedToken {
    let byAudience = this.cache[token.kind].get(token.serviceAccountEmail);
    if (!byAudience) this.cache[token.kind].set(token.serviceAccountEmail, (byAudience = new Map()));
    let entry = byAudience.get(audienceOrScope(token));
    if (!entry) byAudience.set(audienceOrScope(token), (entry = { expiresAtMs: 0 }));
    return entry;
  }

  /** Stops the JWKS server. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async sign(token: DispatchToken): Promise<{ header: string; expiresAtMs: number }> {
    if (token.kind === 'oauth')
      return {
        header: `Bearer ${emulatorOAuthToken(token.serviceAccountEmail, token.scope)}`,
        expiresAtMs: Number.POSITIVE_INFINITY,
      };
    const email = token.serviceAccountEmail;
    const iat = Math.floor(this.clock.now() / 1000);
    const exp = iat + TOKEN_LIFETIME_SECONDS;
    const sub = subjectFor(email);
    const value = await new this.jose.SignJWT({ email, email_verified: true, azp: sub })
      .setProtectedHeader({ alg: 'RS256', kid: this.publicJwk.kid, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setAudience(token.audience)
      .setSubject(sub)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(this.privateKey);
    return { header: `Bearer ${value}`, expiresAtMs: exp * 1000 };
  }
}

function audienceOrScope(token: DispatchToken): string {
  return token.kind === 'oidc' ? token.audience : token.scope;
}

/**
 * The opaque OAuth access token the emulator sends for `serviceAccountEmail` and `scope` (see the file comment): what
 * a local stand-in for a Google API (lib/apps/local/job-stand-in.ts) compares the Authorization header with.
 */
export function emulatorOAuthToken(serviceAccountEmail: string, scope: string): string {
  const account = Buffer.from(serviceAccountEmail).toString('base64url');
  const digest = createHash('sha256').update(scope).digest('hex').slice(0, 12);
  return `emulator-oauth-token.${account}.${digest}`;
}

/**
 * Google puts the service account's unique id (a 21-digit number) in `sub` and `azp`. The emulator derives a stable
 * one from the e-mail, so the same account always has the same subject.
 */
export function subjectFor(email: string): string {
  const digits = BigInt(`0x${createHash('sha256').update(email).digest('hex').slice(0, 16)}`)
    .toString()
    .padStart(20, '0');
  return `1${digits.slice(0, 20)}`;
}

/** jose is an ES module; a dynamic import loads it from CommonJS (tsx, ts-jest) and from ESM alike. */
export function loadJose(): Promise<Jose> {
  return import('jose');
}
