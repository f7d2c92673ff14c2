// Web identity tokens (OpenID Connect ID tokens, JWTs) for AssumeRoleWithWebIdentity: the issuer
// must be an identity provider of the role's account, the audience one of its client ids, the
// signature one of the issuer's keys (its JWKS, found through its discovery document, or a JWKS
// the administrator pinned), and the token current. `jose` does the JOSE work.
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { isIP } from 'node:net';
import type { OidcProvider } from '../meta/iam.ts';

/** Why a token is refused, with STS's exception for it. */
export class WebIdentityError extends Error {
  readonly shape: 'InvalidIdentityTokenException' | 'ExpiredTokenException' | 'IDPCommunicationErrorException' | 'IDPRejectedClaimException';
  constructor(shape: WebIdentityError['shape'], message: string) {
    super(message);
    this.shape = shape;
  }
}

function loopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1';
}

/**
 * The issuer as IAM names it (`host[:port]/path`, no scheme) from a provider URL or an `iss` claim:
 * https, or http on a loopback address (a test's or a sidecar's issuer); no query, fragment or
 * credentials. Undefined when the URL is not acceptable.
 */
export function issuerOf(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && loopback(u.hostname))) return undefined;
  if (u.search !== '' || u.hash !== '' || u.username !== '' || u.password !== '' || url.length > 255) return undefined;
  return `${u.host}${u.pathname}`.replace(/\/+$/, '').toLowerCase();
}

/** What AssumeRoleWithWebIdentity learns of a verified token. */
export interface WebIdentity {
  issuer: string;
  subject: string;
  /** The audience the provider's client ids matched (the `aud` claim, or `azp` when present). */
  audience: string;
  claims: JWTPayload;
}

export interface WebIdentityVerifierOptions {
  now?: () => number;
  /** How long to wait for an issuer's discovery document and keys. */
  timeoutMs?: number;
  /** Leeway for exp/nbf/iat, in seconds. */
  clockToleranceSeconds?: number;
}

export class WebIdentityVerifier {
  private readonly now: () => number;
  private readonly timeoutMs: number;
  private readonly tolerance: number;
  /** Remote key sets by issuer URL (jose caches and refreshes the keys within each). */
  private readonly remote = new Map<string, { jwks: JWTVerifyGetKey; at: number }>();

  constructor(opts: WebIdentityVerifierOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.tolerance = opts.clockToleranceSeconds ?? 0;
  }

  /** The issuer a token claims, read without verifying it (to find the provider that verifies it). */
  static claimedIssuer(token: string): string {
    let payload: JWTPayload;
    try {
      payload = decodeJwt(token);
    } catch {
      throw new WebIdentityError('InvalidIdentityTokenException', "Couldn't parse the web identity token: it is not a JWT");
    }
    if (typeof payload.iss !== 'string') throw new WebIdentityError('InvalidIdentityTokenException', 'The web identity token has no iss claim');
    const issuer = issuerOf(payload.iss);
    if (issuer === undefined) throw new WebIdentityError('InvalidIdentityTokenException', `The web identity token's issuer ${payload.iss.slice(0, 200)} is not an https URL`);
    return issuer;
  }

  private async keys(provider: OidcProvider): Promise<JWTVerifyGetKey> {
    if (provider.jwks !== undefined) return createLocalJWKSet(JSON.parse(provider.jwks) as Parameters<typeof createLocalJWKSet>[0]);
    const hit = this.remote.get(provider.url);
    // The jwks_uri is rediscovered hourly, in case the issuer moves its keys.
    if (hit !== undefined && hit.at > this.now() - 3_600_000) return hit.jwks;
    let jwksUri: string;
    try {
      const r = await fetch(`${provider.url}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(this.timeoutMs), redirect: 'error' });
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      const doc = (await r.json()) as { issuer?: unknown; jwks_uri?: unknown };
      if (typeof doc.jwks_uri !== 'string') throw new Error('the discovery document has no jwks_uri');
      if (typeof doc.issuer === 'string' && issuerOf(doc.issuer) !== provider.issuer) throw new Error(`the discovery document names another issuer, ${doc.issuer.slice(0, 200)}`);
      jwksUri = doc.jwks_uri;
    } catch (e) {
      throw new WebIdentityError('IDPCommunicationErrorException', `Couldn't retrieve verification key from your identity provider: ${(e as Error).message}`);
    }
    const jwks = createRemoteJWKSet(new URL(jwksUri), { timeoutDuration: this.timeoutMs });
    if (this.remote.size >= 1000) this.remote.clear();
    this.remote.set(provider.url, { jwks, at: this.now() });
    return jwks;
  }

  /** Verifies a token against a provider; the identity it proves, or a WebIdentityError. */
  async verify(token: string, provider: OidcProvider): Promise<WebIdentity> {
    const unverified = decodeJwt(token);
    const auds = typeof unverified.aud === 'string' ? [unverified.aud] : Array.isArray(unverified.aud) ? unverified.aud : [];
    // IAM matches the client ids against azp when the token has one, else against aud.
    const audience = typeof unverified.azp === 'string' ? unverified.azp : auds.find((a) => provider.clientIds.includes(a));
    if (audience === undefined || !provider.clientIds.includes(audience)) throw new WebIdentityError('InvalidIdentityTokenException', 'Incorrect token audience');
    const keys = await this.keys(provider);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, { currentDate: new Date(this.now()), clockTolerance: this.tolerance, algorithms: ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512'] }));
    } catch (e) {
      if (e instanceof joseErrors.JWTExpired) {
        const exp = typeof unverified.exp === 'number' ? new Date(unverified.exp * 1000).toISOString() : 'unknown';
        throw new WebIdentityError('ExpiredTokenException', `Token expired: current date/time ${new Date(this.now()).toISOString()} must be before the expiration date/time ${exp}`);
      }
      if (e instanceof joseErrors.JWKSTimeout || (e instanceof joseErrors.JOSEError && e.code === 'ERR_JOSE_GENERIC')) {
        throw new WebIdentityError('IDPCommunicationErrorException', `Couldn't retrieve verification key from your identity provider: ${e.message}`);
      }
      if (e instanceof joseErrors.JOSEError) throw new WebIdentityError('InvalidIdentityTokenException', `The web identity token could not be verified: ${e.message}`);
      throw new WebIdentityError('IDPCommunicationErrorException', `Couldn't retrieve verification key from your identity provider: ${(e as Error).message}`);
    }
    if (typeof payload.exp !== 'number') throw new WebIdentityError('InvalidIdentityTokenException', 'The web identity token has no exp claim');
    if (typeof payload.sub !== 'string' || payload.sub === '') throw new WebIdentityError('InvalidIdentityTokenException', 'The web identity token has no sub claim');
    return { issuer: provider.issuer, subject: payload.sub, audience, claims: payload };
  }
}
