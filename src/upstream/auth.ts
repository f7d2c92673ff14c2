// Authentication to another registry the way Docker, containerd and skopeo do it: the first request
// goes out anonymously; a 401 carries a WWW-Authenticate challenge. `Basic` (RFC 7617) is answered with
// the configured credentials; `Bearer` (Docker's token authentication, distribution
// docs/spec/auth/token.md, as Docker Hub, GHCR, Quay and CNCF Distribution use it) with a token from
// the challenge's realm: GET realm?service=...&scope=repository:<name>:<actions>, Basic credentials
// when configured, answer `token` or `access_token` with `expires_in` (default 60 s). Tokens are
// cached per set of scopes. Credentials never appear in errors.
import { ChallengeSyntaxError, parseWwwAuthenticate, type Challenge } from './challenge.ts';
import { UpstreamError } from './errors.ts';

export interface Credentials {
  username: string;
  password: string;
}

/** Fetches a token endpoint URL (GET, retried like any request) and returns the 200 body. */
export type TokenRequester = (url: URL, authorization: string | undefined) => Promise<Buffer>;

/** The Docker token spec's default lifetime when `expires_in` is absent. */
const DEFAULT_TOKEN_SECONDS = 60;
/** Tokens are renewed after this share of their lifetime, so none expires during a request. */
const TOKEN_LIFETIME_USED = 0.9;

/** `repository:<name>:pull` or `repository:<name>:pull,push`. */
export function repositoryScope(name: string, push = false): string {
  return `repository:${name}:${push ? 'pull,push' : 'pull'}`;
}

/**
 * The union of scopes (space-separated lists accepted), one entry per resource with its actions
 * merged and sorted, so equal sets give equal cache keys.
 */
export function mergeScopes(...lists: readonly string[]): string[] {
  const actions = new Map<string, Set<string>>();
  for (const scope of lists.flatMap((l) => l.split(' ')).filter((s) => s !== '')) {
    const i = scope.lastIndexOf(':');
    const resource = i === -1 ? scope : scope.slice(0, i);
    const set = actions.get(resource) ?? new Set<string>();
    if (i !== -1) for (const a of scope.slice(i + 1).split(',')) if (a !== '') set.add(a);
    actions.set(resource, set);
  }
  return [...actions.keys()].sort().map((r) => `${r}:${[...(actions.get(r) ?? [])].sort().join(',')}`);
}

export class Authenticator {
  private readonly credentials: Credentials | undefined;
  private readonly requestToken: TokenRequester;
  private readonly now: () => number;
  private challenge: Challenge | undefined;
  private readonly tokens = new Map<string, { token: string; renewAt: number }>();
  private readonly pending = new Map<string, Promise<string>>();

  constructor(credentials: Credentials | undefined, requestToken: TokenRequester, now: () => number) {
    this.credentials = credentials;
    this.requestToken = requestToken;
    this.now = now;
  }

  /** The Authorization header for a request needing `scopes`; undefined until a challenge was seen. */
  async authorization(scopes: readonly string[]): Promise<string | undefined> {
    const c = this.challenge;
    if (c === undefined) return undefined;
    if (c.scheme === 'basic') return this.basic();
    return `Bearer ${await this.token(c, mergeScopes(...scopes))}`;
  }

  /**
   * Learns from a 401 answer to a request that needed `scopes`: remembers its challenge, forgets the
   * token that was refused, and returns the scopes to ask for (the request's and the challenge's).
   * Throws `unauthorized` when the challenge cannot be answered.
   */
  challenged(header: string | null, scopes: readonly string[], url: string): string[] {
    const refuse = (why: string, cause?: unknown): UpstreamError => new UpstreamError('unauthorized', `${why} (from ${url})`, { status: 401, url, cause });
    if (header === null) throw refuse('the registry answered 401 without a WWW-Authenticate challenge');
    let challenges: Challenge[];
    try {
      challenges = parseWwwAuthenticate(header);
    } catch (e) {
      if (e instanceof ChallengeSyntaxError) throw refuse(e.message, e);
      throw e;
    }
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    const chosen = bearer ?? basic;
    if (chosen === undefined) throw refuse(`unsupported authentication scheme ${challenges.map((c) => c.scheme).join(', ') || '(none)'}`);
    if (chosen === bearer) {
      const realm = bearer.params.realm;
      if (realm === undefined || !/^https?:\/\//i.test(realm)) throw refuse('the Bearer challenge has no http(s) realm');
    } else if (this.credentials === undefined) {
      throw refuse('the registry asks for Basic credentials and none are configured');
    }
    this.challenge = chosen;
    const wanted = mergeScopes(...scopes, chosen.params.scope ?? '');
    this.tokens.delete(mergeScopes(...scopes).join(' '));
    this.tokens.delete(wanted.join(' '));
    return wanted;
  }

  private basic(): string | undefined {
    if (this.credentials === undefined) return undefined;
    const { username, password } = this.credentials;
    return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }

  private async token(challenge: Challenge, scopes: string[]): Promise<string> {
    const key = scopes.join(' ');
    const cached = this.tokens.get(key);
    if (cached !== undefined && this.now() < cached.renewAt) return cached.token;
    const inFlight = this.pending.get(key);
    if (inFlight !== undefined) return inFlight;
    const fetching = this.fetchToken(challenge, scopes).finally(() => this.pending.delete(key));
    this.pending.set(key, fetching);
    return fetching;
  }

  private async fetchToken(challenge: Challenge, scopes: string[]): Promise<string> {
    const url = new URL(challenge.params.realm ?? '');
    if (challenge.params.service !== undefined) url.searchParams.set('service', challenge.params.service);
    for (const s of scopes) url.searchParams.append('scope', s);
    let body: Buffer;
    try {
      body = await this.requestToken(url, this.basic());
    } catch (e) {
      if (e instanceof UpstreamError && (e.kind === 'unauthorized' || e.kind === 'denied')) {
        const who = this.credentials === undefined ? 'anonymous access' : 'the configured credentials';
        throw new UpstreamError(e.kind, `the token endpoint refused ${who}: ${e.message}`, { status: e.status, code: e.code, url, cause: e });
      }
      throw e;
    }
    let answer: unknown;
    try {
      answer = JSON.parse(body.toString('utf8'));
    } catch {
      throw new UpstreamError('invalid-response', 'the token endpoint did not answer JSON', { url });
    }
    const { token, access_token: accessToken, expires_in: expiresIn } = (answer ?? {}) as Record<string, unknown>;
    const value = typeof token === 'string' && token !== '' ? token : accessToken;
    if (typeof value !== 'string' || value === '') throw new UpstreamError('invalid-response', 'the token endpoint answered without a token', { url });
    const seconds = typeof expiresIn === 'number' && expiresIn > 0 ? expiresIn : DEFAULT_TOKEN_SECONDS;
    this.tokens.set(scopes.join(' '), { token: value, renewAt: this.now() + seconds * 1000 * TOKEN_LIFETIME_USED });
    return value;
  }
}
