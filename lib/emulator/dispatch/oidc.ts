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
interface ReadyToken {
  /** `Bearer <token>` */
  readonly header: string;
  readonly expiresAtMs: number;
}

interface CachedToken {
  readonly value: string;
  readonly expiresAtMs: number;
}

export class TokenIssuer {
  /** `http://127.0.0.1:<port>`: the `iss` claim and the base of the discovery URLs. */
  readonly issuer: string;
  readonly jwksUri: string;
  private readonly cache = new Map<string, Promise<CachedToken>>();
  /**
   * Signed tokens as header values, by kind, account, then audience (OIDC) or scope (OAuth): nested maps look up the
   * task's own strings, where one map would hash a concatenated key on every dispatch.
   */
  private readonly ready = {
    oidc: new Map<string, Map<string, ReadyToken>>(),
    oauth: new Map<string, Map<string, ReadyToken>>(),
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
  async authorization(token: DispatchToken): Promise<string> {
    const ready = this.readyAuthorization(token);
    if (ready !== undefined) return ready;
    if (token.kind === 'oauth') {
      const header = `Bearer ${emulatorOAuthToken(token.serviceAccountEmail, token.scope)}`;
      this.setReady(token, { header, expiresAtMs: Number.POSITIVE_INFINITY });
      return header;
    }
    const key = `${token.serviceAccountEmail}\n${token.audience}`;
    const now = this.clock.now();
    let cached = this.cache.get(key);
    const current = cached && (await cached);
    if (!current || current.expiresAtMs - now < REFRESH_BEFORE_EXPIRY_SECONDS * 1000) {
      cached = this.sign(token.serviceAccountEmail, token.audience, now);
      this.cache.set(key, cached);
      // A failed signature must not stay cached.
      cached.catch(() => this.cache.delete(key));
    }
    const signed = await cached!;
    const header = `Bearer ${signed.value}`;
    this.setReady(token, { header, expiresAtMs: signed.expiresAtMs });
    return header;
  }

  /**
   * The header at once when a token for this account and audience (or scope) is signed and not near expiry, else
   * undefined (then `authorization` signs one). The dispatcher asks this first: at thousands of dispatches a second,
   * awaiting a settled promise per attempt is measurable.
   */
  readyAuthorization(token: DispatchToken): string | undefined {
    const ready = this.ready[token.kind].get(token.serviceAccountEmail)?.get(audienceOrScope(token));
    if (!ready || ready.expiresAtMs - this.clock.now() < REFRESH_BEFORE_EXPIRY_SECONDS * 1000) return undefined;
    return ready.header;
  }

  private setReady(token: DispatchToken, ready: ReadyToken): void {
    let byAudience = this.ready[token.kind].get(token.serviceAccountEmail);
    if (!byAudience) this.ready[token.kind].set(token.serviceAccountEmail, (byAudience = new Map()));
    byAudience.set(audienceOrScope(token), ready);
  }

  /** Stops the JWKS server. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async sign(email: string, audience: string, nowMs: number): Promise<CachedToken> {
    const iat = Math.floor(nowMs / 1000);
    const exp = iat + TOKEN_LIFETIME_SECONDS;
    const sub = subjectFor(email);
    const value = await new this.jose.SignJWT({ email, email_verified: true, azp: sub })
      .setProtectedHeader({ alg: 'RS256', kid: this.publicJwk.kid, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setAudience(audience)
      .setSubject(sub)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(this.privateKey);
    return { value, expiresAtMs: exp * 1000 };
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
