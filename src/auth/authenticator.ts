// The Authenticator seam: a request's credentials -> a Principal, or null for an anonymous request.
// Bad credentials are an error (401), not anonymity.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { RESYNC_TOPIC, type Bus } from '../cluster/index.ts';
import { RegistryError } from '../core/errors.ts';
import type { MetaStore } from '../meta/index.ts';
import type { Principal } from './principal.ts';
import { principalOf, principalOfSession } from './principal.ts';
import { verifySecret } from './secrets.ts';
import type { Keyring } from './crypto.ts';
import { readLoginToken } from './login-token.ts';

/** The principal an access key stands for, with its IAM user's path in the ARN (`user/team/ci`). */
export async function keyPrincipal(meta: MetaStore, key: { accountId: string; userName: string; accessKeyId: string }): Promise<Principal> {
  if (key.userName === 'root') return principalOf(key);
  const user = await meta.iam.get(key.accountId, 'user', key.userName);
  return principalOf(key, user?.path ?? '/');
}

export interface AuthRequest {
  headers: Record<string, string | string[] | undefined>;
}

export interface Authenticator {
  authenticate(req: AuthRequest): Promise<Principal | null>;
  /** Forget cached verifications of an access key (after it is deleted or deactivated). */
  invalidate(accessKeyId: string): void;
}

interface CacheEntry {
  /** sha256 of the secret that was verified; compared in constant time. */
  secretDigest: Buffer;
  principal: Principal;
  expiresAt: number;
}

const MAX_CACHE = 10_000;
const REFUSED_TTL_MS = 30_000;
/** The bus topic on which access key invalidations travel between processes. */
export const ACCESS_KEY_TOPIC = 'accesskey';

/**
 * HTTP Basic with an access key id and secret access key. Verifying a stored scrypt hash costs tens
 * of milliseconds, so a successful verification is cached (keyed by access key id, holding a
 * digest of the secret, never the secret) for `cacheTtlSeconds`. With a bus, `invalidate` reaches
 * every process's authenticator, and a `resync` (the bus lost messages) empties the cache; without
 * one, or while the bus is down, another process sees a change within `cacheTtlSeconds`.
 */
export class BasicAuthenticator implements Authenticator {
  private readonly meta: MetaStore;
  private readonly cacheTtlMs: number;
  private readonly cache = new Map<string, CacheEntry>();
  /** Recently refused secrets per key, so that repeated bad attempts do not each cost a hash. */
  private readonly refused = new Map<string, { secretDigest: Buffer; until: number }>();
  /** Verifications under way, so that a burst of first requests hashes once. */
  private readonly inflight = new Map<string, Promise<Principal>>();
  private readonly now: () => number;
  private readonly keyring: Keyring | undefined;
  /** Access keys behind login tokens, known active until then. */
  private readonly activeUntil = new Map<string, number>();
  private readonly bus: Bus | undefined;
  private readonly log: Logger | undefined;
  private readonly unsubscribe: Array<() => void> = [];
  /**
   * Bumped by every invalidation: a verification that started before one does not cache its result,
   * which may have been read before the change.
   */
  private epoch = 0;

  constructor(meta: MetaStore, opts: { cacheTtlSeconds: number; now?: () => number; bus?: Bus; log?: Logger; keyring?: Keyring }) {
    this.meta = meta;
    this.keyring = opts.keyring;
    this.cacheTtlMs = opts.cacheTtlSeconds * 1000;
    this.now = opts.now ?? Date.now;
    this.bus = opts.bus;
    this.log = opts.log;
    if (this.bus !== undefined) {
      this.unsubscribe.push(this.bus.subscribe(ACCESS_KEY_TOPIC, (id) => this.forget(id)));
      this.unsubscribe.push(this.bus.subscribe(RESYNC_TOPIC, () => this.clear()));
    }
  }

  /** Forgets the key here and, through the bus, in every other process. */
  invalidate(accessKeyId: string): void {
    this.forget(accessKeyId);
    this.bus?.publish(ACCESS_KEY_TOPIC, accessKeyId).catch((err: unknown) => {
      this.log?.warn({ err, accessKeyId }, 'could not publish an access key invalidation: other processes see it when their cache entries expire');
    });
  }

  private forget(accessKeyId: string): void {
    this.epoch++;
    this.cache.delete(accessKeyId);
    this.refused.delete(accessKeyId);
    this.activeUntil.delete(accessKeyId);
    this.sessions.delete(accessKeyId);
  }

  private clear(): void {
    this.epoch++;
    this.cache.clear();
    this.refused.clear();
    this.activeUntil.clear();
    this.sessions.clear();
  }

  /**
   * Basic credentials with the user name `AWS` and a login token from GetAuthorizationToken as the
   * password: the principal the token stands for, while the access key behind it is still active.
   */
  async verifyLoginToken(token: string): Promise<Principal> {
    if (this.keyring === undefined) throw new RegistryError('Unauthorized', 'login tokens are not accepted here');
    const now = this.now();
    const principal = readLoginToken(this.keyring, token, now);
    if (principal.kind === 'assumed-role') return await this.sessionOf(principal, now);
    const until = this.activeUntil.get(principal.accessKeyId);
    if (until === undefined || until <= now) {
      const key = await this.meta.accessKeys.get(principal.accessKeyId);
      if (key === undefined || key.status !== 'Active' || key.accountId !== principal.accountId) {
        throw new RegistryError('Unauthorized', 'the access key this login token was issued for is no longer active');
      }
      if (this.activeUntil.size >= MAX_CACHE) this.activeUntil.clear();
      this.activeUntil.set(principal.accessKeyId, now + this.cacheTtlMs);
    }
    return principal;
  }

  /** Sessions behind login tokens, with the principal read back from them, until a re-read. */
  private readonly sessions = new Map<string, { principal: Principal; until: number }>();

  /** The assumed-role session a login token was issued for, while its credentials last. */
  private async sessionOf(token: Principal, now: number): Promise<Principal> {
    let hit = this.sessions.get(token.accessKeyId);
    if (hit === undefined || hit.until <= now) {
      const s = await this.meta.iam.getSession(token.accessKeyId);
      if (s === undefined || s.accountId !== token.accountId) throw new RegistryError('Unauthorized', 'the session this login token was issued for is unknown');
      if (s.expiresAt <= now) throw new RegistryError('TokenExpired', 'the role session this login token was issued for has expired: assume the role again');
      if (this.sessions.size >= MAX_CACHE) this.sessions.clear();
      hit = { principal: principalOfSession(s), until: Math.min(now + this.cacheTtlMs, s.expiresAt) };
      this.sessions.set(token.accessKeyId, hit);
    }
    return { ...hit.principal, ...(token.registryId !== undefined ? { registryId: token.registryId } : {}) };
  }

  /** Stops listening to the bus. */
  close(): void {
    for (const u of this.unsubscribe.splice(0)) u();
  }

  async authenticate(req: AuthRequest): Promise<Principal | null> {
    const header = req.headers.authorization;
    const value = Array.isArray(header) ? header[0] : header;
    if (value === undefined || value === '') return null;
    const scheme = value.split(/\s/, 1)[0] ?? '';
    if (scheme.toLowerCase() !== 'basic') {
      throw new RegistryError('Unauthorized', `unsupported authorization scheme "${scheme.slice(0, 20)}": use Basic with an access key id and secret`);
    }
    const m = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(value);
    if (m === null) throw new RegistryError('Unauthorized', 'malformed Basic credentials');
    const decoded = Buffer.from(m[1] as string, 'base64').toString('utf8');
    // An empty user and password (what containers/image sends without credentials): anonymous.
    if (decoded === ':') return null;
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw new RegistryError('Unauthorized', 'malformed Basic credentials');
    const accessKeyId = decoded.slice(0, colon);
    const secret = decoded.slice(colon + 1);
    if (accessKeyId === 'AWS' && this.keyring !== undefined) return await this.verifyLoginToken(secret);
    return await this.verify(accessKeyId, secret);
  }

  async verify(accessKeyId: string, secret: string): Promise<Principal> {
    const secretDigest = createHash('sha256').update(secret).digest();
    const now = this.now();
    const hit = this.cache.get(accessKeyId);
    if (hit !== undefined && hit.expiresAt > now) {
      if (timingSafeEqual(hit.secretDigest, secretDigest)) return hit.principal;
      throw new RegistryError('Unauthorized', 'invalid access key id or secret access key');
    }
    const no = this.refused.get(accessKeyId);
    if (no !== undefined && no.until > now && timingSafeEqual(no.secretDigest, secretDigest)) {
      throw new RegistryError('Unauthorized', 'invalid access key id or secret access key');
    }
    const flightKey = `${accessKeyId}\n${secretDigest.toString('hex')}`;
    const running = this.inflight.get(flightKey);
    if (running !== undefined) return await running;
    const p = this.verifySlow(accessKeyId, secret, secretDigest).finally(() => this.inflight.delete(flightKey));
    this.inflight.set(flightKey, p);
    return await p;
  }

  private async verifySlow(accessKeyId: string, secret: string, secretDigest: Buffer): Promise<Principal> {
    const epoch = this.epoch;
    const key = await this.meta.accessKeys.get(accessKeyId);
    if (key === undefined || key.status !== 'Active' || !(await verifySecret(secret, key.secretHash))) {
      if (key !== undefined && epoch === this.epoch) {
        if (this.refused.size >= MAX_CACHE) this.refused.clear();
        this.refused.set(accessKeyId, { secretDigest, until: this.now() + REFUSED_TTL_MS });
      }
      throw new RegistryError('Unauthorized', 'invalid access key id or secret access key');
    }
    const now = this.now();
    const principal = await keyPrincipal(this.meta, key);
    if (epoch === this.epoch) {
      if (this.cache.size >= MAX_CACHE) this.cache.clear();
      this.cache.set(accessKeyId, { secretDigest, principal, expiresAt: now + this.cacheTtlMs });
    }
    return principal;
  }
}
