// The pull-through cache: pulls of repositories that fall under a rule are served from upstream
// when the registry does not have the content yet, and cached. A manifest fetched from upstream is
// answered at once; its blobs stream to the client from upstream while they are stored (a blob is
// stored only once its digest checks out), and the `proxy.import` job fetches whatever the client
// did not and then stores the manifest (an index with all its children first), so that the next
// pull is served locally. A tag is compared with upstream again once its last check is older than
// pullThroughCache.revalidateAfter (ECR: 24 hours); if the upstream fails or rate-limits, the
// cached copy is served. Pulls by digest never need upstream once cached. Concurrent pulls of the
// same uncached manifest or blob make one upstream request in a process (single flight).
import { PassThrough, type Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Keyring } from '../auth/index.ts';
import { isRegistryError, RegistryError } from '../core/errors.ts';
import { parseManifest } from '../core/manifest.ts';
import { parseReference } from '../core/names.ts';
import type { MetaStore, PullThroughCacheRuleRow, Repository } from '../meta/index.ts';
import type { Registry } from '../registry/index.ts';
import { RegistryClient, UpstreamError, type Manifest, type VerifiedBlobStream } from '../upstream/index.ts';
import { matchRule, upstreamBaseUrl, type RuleMatch } from './rules.ts';

export interface ProxyDeps {
  meta: MetaStore;
  registry: Registry;
  keyring: Keyring;
  log: Logger;
  now: () => number;
  /** Enqueues the import of a manifest fetched from upstream. */
  enqueue: (job: ImportJob) => Promise<void>;
  /** How long a cached tag is served before it is compared with upstream again (ms). */
  revalidateAfterMs: number;
  /** How long an upstream may take to answer or to send more bytes (ms; default 30 s). */
  upstreamTimeoutMs?: number;
  /** Tests: the client of an upstream. */
  clientFor?: (rule: PullThroughCacheRuleRow, credentials: { username: string; password: string } | undefined) => RegistryClient;
}

export interface ImportJob {
  accountId: string;
  repository: string;
  upstreamRepository: string;
  /** The tag pulled, or undefined for a pull by digest. */
  tag?: string;
  digest: string;
}

const RULE_CACHE_MS = 5_000;
/** After a failed revalidation, the next one is tried this much later at most (the cached copy is served meanwhile). */
const RETRY_CHECK_MS = 60_000;

export type Match = RuleMatch<PullThroughCacheRuleRow>;

/** The registry error a failed upstream request becomes on /v2/ (the ECR API names it UnableToGetUpstreamImageException). */
export function upstreamFailure(e: unknown, what: string): RegistryError {
  if (e instanceof UpstreamError) {
    if (e.kind === 'not-found') return new RegistryError('ManifestUnknown', `${what} is not in the upstream registry (${e.url})`);
    if (e.kind === 'rate-limited') {
      const seconds = Math.max(1, Math.ceil((e.retryAfterMs ?? 10_000) / 1000));
      return new RegistryError('TooManyRequests', `the upstream registry rate-limits pulls of ${what}; nothing is cached yet: retry in ${seconds} s`, undefined, { 'Retry-After': String(seconds) });
    }
    return new RegistryError('UpstreamUnavailable', `${what} could not be pulled from the upstream registry: ${e.message}`);
  }
  if (isRegistryError(e)) return e;
  return new RegistryError('UpstreamUnavailable', `${what} could not be pulled from the upstream registry: ${e instanceof Error ? e.message : String(e)}`);
}

export class PullThroughCache {
  private readonly deps: ProxyDeps;
  private readonly rules = new Map<string, { rules: PullThroughCacheRuleRow[]; at: number }>();
  private readonly clients = new Map<string, RegistryClient>();
  private readonly manifestFlights = new Map<string, Promise<Manifest>>();
  private readonly blobFlights = new Map<string, Promise<void>>();

  constructor(deps: ProxyDeps) {
    this.deps = deps;
  }

  /** The rule a repository name of the account falls under, if any. */
  async match(accountId: string, name: string): Promise<Match | undefined> {
    let cached = this.rules.get(accountId);
    if (cached === undefined || this.deps.now() - cached.at > RULE_CACHE_MS) {
      cached = { rules: await this.deps.meta.pullThroughCacheRules.list(accountId), at: this.deps.now() };
      this.rules.set(accountId, cached);
    }
    return matchRule(cached.rules, name);
  }

  /** Forget cached rules (after this process changed them). */
  invalidate(accountId: string): void {
    this.rules.delete(accountId);
  }

  /**
   * The manifest for a pull of `reference` (tag or digest) from upstream: fetched when the registry
   * lacks it, or when a cached tag is due for revalidation and moved upstream. Undefined: serve
   * the local copy (fresh, unchanged upstream, or upstream failing while a copy is cached).
   */
  async manifest(pull: { repo: Repository | undefined; mayImport: () => Promise<void>; create?: () => Promise<Repository> }, m: Match, reference: string): Promise<Manifest | undefined> {
    const ref = parseReference(reference);
    const now = this.deps.now();
    const repoOf = async (): Promise<Repository> => {
      if (pull.repo !== undefined) return pull.repo;
      if (pull.create === undefined) throw new Error('no repository to cache into');
      return await pull.create();
    };
    if (ref.kind === 'digest') {
      if (pull.repo !== undefined && (await this.deps.meta.manifests.getMeta(pull.repo.id, ref.digest.digest)) !== undefined) return undefined;
      await pull.mayImport();
      const fetched = await this.fetchManifest(m, ref.digest.digest).catch((e: unknown) => {
        throw upstreamFailure(e, `${m.upstreamRepository}@${ref.digest.digest}`);
      });
      await this.scheduleImport(await repoOf(), m, undefined, fetched.digest);
      return fetched;
    }
    const local = pull.repo === undefined ? undefined : await this.deps.meta.tags.get(pull.repo.id, ref.tag);
    if (local !== undefined && pull.repo !== undefined) {
      const repo = pull.repo;
      const check = await this.deps.meta.pullThroughCacheRules.lastCheck(repo.id, ref.tag);
      if (check !== undefined && now - check.checkedAt < this.deps.revalidateAfterMs) return undefined;
      try {
        const head = await this.client(m.rule).then(async (c) => await c.headManifest(m.upstreamRepository, ref.tag));
        if (head === undefined) return undefined; // gone upstream: keep serving what was cached
        await this.deps.meta.pullThroughCacheRules.recordCheck(repo.id, ref.tag, head.digest, now);
        if (head.digest === local) return undefined;
      } catch (e) {
        // Serve the cached tag, and ask upstream again in a minute rather than on every pull.
        this.deps.log.warn({ err: e, repository: repo.name, tag: ref.tag }, 'upstream unavailable: serving the cached tag');
        await this.deps.meta.pullThroughCacheRules.recordCheck(repo.id, ref.tag, check?.digest ?? local, this.deps.now() - this.deps.revalidateAfterMs + Math.min(RETRY_CHECK_MS, this.deps.revalidateAfterMs));
        return undefined;
      }
    }
    if (local === undefined) await pull.mayImport();
    let fetched: Manifest;
    try {
      fetched = await this.fetchManifest(m, ref.tag);
    } catch (e) {
      if (local !== undefined) {
        this.deps.log.warn({ err: e, repository: pull.repo?.name, tag: ref.tag }, 'upstream unavailable: serving the cached tag');
        return undefined;
      }
      if (pull.repo !== undefined) await this.event(pull.repo, m, ref.tag, undefined, e);
      throw upstreamFailure(e, `${m.upstreamRepository}:${ref.tag}`);
    }
    const repo = await repoOf();
    await this.deps.meta.pullThroughCacheRules.recordCheck(repo.id, ref.tag, fetched.digest, now);
    await this.scheduleImport(repo, m, ref.tag, fetched.digest);
    return fetched;
  }

  /**
   * A blob the registry lacks, from upstream: streamed to the caller while it is stored. Concurrent
   * requests for the same blob wait for the one transfer and are served from the registry.
   */
  async blob(repo: Repository, m: Match, digest: string, mayImport: () => Promise<void>): Promise<{ stream: Readable; size: number | undefined } | undefined> {
    await mayImport();
    const key = `${repo.id} ${digest}`;
    const inFlight = this.blobFlights.get(key);
    if (inFlight !== undefined) {
      await inFlight.catch(() => undefined);
      return undefined; // stored by then (or failed: the caller answers BLOB_UNKNOWN)
    }
    let upstream: VerifiedBlobStream;
    try {
      upstream = await (await this.client(m.rule)).openBlob(m.upstreamRepository, digest);
    } catch (e) {
      throw upstreamFailure(e, `blob ${digest} of ${m.upstreamRepository}`);
    }
    const toClient = new PassThrough();
    const toStore = new PassThrough();
    upstream.on('error', (e) => {
      toClient.destroy(e);
      toStore.destroy(e);
    });
    // Their consumers (the HTTP response, the store) may not listen yet, or any more, when the
    // upstream fails: the failure is theirs through destroy(); here it must not become uncaught.
    toClient.on('error', () => undefined);
    toStore.on('error', () => undefined);
    upstream.pipe(toClient);
    upstream.pipe(toStore);
    const stored = this.deps.registry.uploads.monolithic(repo, digest, toStore).then(() => undefined);
    this.blobFlights.set(key, stored);
    stored
      .catch((err: unknown) => this.deps.log.warn({ err, repository: repo.name, digest }, 'blob from upstream not cached'))
      .finally(() => this.blobFlights.delete(key));
    return { stream: toClient, size: upstream.size };
  }

  /** The size of a blob the registry lacks, as upstream has it (a HEAD through the cache). */
  async statBlob(m: Match, digest: string, mayImport: () => Promise<void>): Promise<number | undefined> {
    await mayImport();
    try {
      return (await (await this.client(m.rule)).statBlob(m.upstreamRepository, digest))?.size;
    } catch (e) {
      throw upstreamFailure(e, `blob ${digest} of ${m.upstreamRepository}`);
    }
  }

  /** The `proxy.import` job: every blob and child the manifest needs, then the manifest itself. */
  async import(job: ImportJob): Promise<void> {
    const repo = await this.deps.meta.repositories.get(job.accountId, job.repository);
    if (repo === undefined) return;
    const m = await this.match(job.accountId, job.repository);
    if (m === undefined) return;
    try {
      await this.importManifest(repo, m, job.digest, job.tag ?? job.digest, 0);
      await this.event(repo, m, job.tag, job.digest);
    } catch (e) {
      await this.event(repo, m, job.tag, job.digest, e);
      throw e;
    }
  }

  /** Fetches the manifest `digest` once, stores what it needs (children, blobs), then stores it under `reference`. */
  private async importManifest(repo: Repository, m: Match, digest: string, reference: string, depth: number): Promise<void> {
    if (depth > 2) throw new RegistryError('ManifestInvalid', `manifest ${digest} nests indexes too deeply`);
    const manifest = await this.fetchManifest(m, digest);
    const parsed = parseManifest(manifest.body, manifest.mediaType);
    for (const child of parsed.manifests) {
      if ((await this.deps.meta.manifests.getMeta(repo.id, child.digest)) !== undefined) continue;
      await this.importManifest(repo, m, child.digest, child.digest, depth + 1);
    }
    for (const b of parsed.requiredBlobs) {
      if ((await this.deps.meta.blobs.getInRepository(repo.id, b.digest)) !== undefined) continue;
      const key = `${repo.id} ${b.digest}`;
      const inFlight = this.blobFlights.get(key);
      if (inFlight !== undefined) {
        await inFlight.catch(() => undefined);
        if ((await this.deps.meta.blobs.getInRepository(repo.id, b.digest)) !== undefined) continue;
      }
      const stored = (async () => {
        const stream = await (await this.client(m.rule)).openBlob(m.upstreamRepository, b.digest);
        await this.deps.registry.uploads.monolithic(repo, b.digest, stream);
      })();
      this.blobFlights.set(key, stored);
      try {
        await stored;
      } finally {
        this.blobFlights.delete(key);
      }
    }
    await this.deps.registry.manifests.put({ accountId: repo.accountId, name: repo.name }, reference, manifest.body, manifest.mediaType);
  }

  private async fetchManifest(m: Match, reference: string): Promise<Manifest> {
    const key = `${m.rule.accountId} ${m.rule.prefix} ${m.upstreamRepository} ${reference}`;
    const inFlight = this.manifestFlights.get(key);
    if (inFlight !== undefined) return await inFlight;
    const p = this.client(m.rule).then(async (c) => await c.getManifest(m.upstreamRepository, reference));
    this.manifestFlights.set(key, p);
    try {
      return await p;
    } finally {
      this.manifestFlights.delete(key);
    }
  }

  private async scheduleImport(repo: Repository, m: Match, tag: string | undefined, digest: string): Promise<void> {
    await this.deps.enqueue({ accountId: repo.accountId, repository: repo.name, upstreamRepository: m.upstreamRepository, ...(tag !== undefined ? { tag } : {}), digest });
  }

  /** The client of a rule's upstream (with the rule's credentials from the secrets store). */
  async client(rule: PullThroughCacheRuleRow): Promise<RegistryClient> {
    const key = `${rule.accountId} ${rule.prefix} ${rule.upstreamUrl} ${rule.credentialArn ?? ''} ${rule.updatedAt}`;
    const cached = this.clients.get(key);
    if (cached !== undefined) return cached;
    let credentials: { username: string; password: string } | undefined;
    if (rule.credentialArn !== null) {
      const secret = await this.deps.meta.secrets.byArn(rule.credentialArn);
      if (secret === undefined) throw new RegistryError('UpstreamUnavailable', `the credentials of the pull-through cache rule ${rule.prefix} (${rule.credentialArn}) no longer exist`);
      const value = JSON.parse(this.deps.keyring.decrypt(secret.valueEnc)) as { username?: string; accessToken?: string };
      credentials = { username: value.username ?? '', password: value.accessToken ?? '' };
    }
    const base = upstreamBaseUrl(rule.upstreamUrl);
    if (base === undefined) throw new RegistryError('UpstreamUnavailable', `the upstream URL of the pull-through cache rule ${rule.prefix} is not usable: ${rule.upstreamUrl}`);
    const client = this.deps.clientFor?.(rule, credentials) ?? new RegistryClient({ baseUrl: base.origin, credentials, userAgent: 'berth-pull-through-cache', ...(this.deps.upstreamTimeoutMs !== undefined ? { timeoutMs: this.deps.upstreamTimeoutMs } : {}) });
    this.clients.set(key, client);
    return client;
  }

  /** ECR's `ECR Pull Through Cache Action` event. */
  private async event(repo: Repository, m: Match, tag: string | undefined, digest: string | undefined, error?: unknown): Promise<void> {
    const failure = error === undefined ? undefined : upstreamFailure(error, m.upstreamRepository);
    await this.deps.meta.events.append({
      accountId: repo.accountId,
      type: 'ECR Pull Through Cache Action',
      repository: repo.name,
      digest: digest ?? null,
      tag: tag ?? null,
      detail: {
        'sync-status': failure === undefined ? 'SUCCESS' : 'FAILED',
        'ecr-repository-prefix': m.rule.prefix,
        'repository-name': repo.name,
        'upstream-registry-url': m.rule.upstreamUrl,
        ...(tag !== undefined ? { 'image-tag': tag } : {}),
        ...(digest !== undefined ? { 'image-digest': digest } : {}),
        ...(failure !== undefined ? { 'failure-code': failure.code, 'failure-reason': failure.message } : {}),
      },
      createdAt: this.deps.now(),
    });
  }
}
