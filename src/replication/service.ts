// Registry replication (ECR user guide "Private image replication"): each manifest pushed to a
// repository that a rule of the account's replication configuration covers is copied to every
// destination of those rules, by one durable `replication.push` job per destination, never on the
// push's request path. A job copies the manifest with everything it references (an index's children
// first, the blobs the destination lacks), stores it with the pushed tag, then the image's referrers.
// A destination that cannot be reached is retried with the queue's backoff (capped at an hour) for
// REPLICATION_MAX_ATTEMPTS attempts; a refusal (permissions, a rejected manifest) fails at once.
// The status of each image at each destination is kept for DescribeImageReplicationStatus.
// Destinations in this deployment's region are its other accounts, reached in-process with the same
// permission checks as a remote push (receiver.ts); other regions are berth deployments or any OCI
// registry, as `replication.destinations` says (destinations.ts).
import type { Readable } from 'node:stream';
import { GetAuthorizationTokenCommand, ECRClient } from '@aws-sdk/client-ecr';
import type { Logger } from 'pino';
import type { Authorizer } from '../auth/index.ts';
import { isRegistryError } from '../core/errors.ts';
import { parseManifest } from '../core/manifest.ts';
import type { Manifest, MetaStore, ReplicationRuleRow, ReplicationStatusValue, Repository } from '../meta/index.ts';
import type { Registry } from '../registry/index.ts';
import type { StoredManifest } from '../registry/manifests.ts';
import { RegistryClient, UpstreamError } from '../upstream/index.ts';
import type { DestinationEndpoint, DestinationMap } from './destinations.ts';
import { REPLICATION_HEADER, ReplicationReceiver, replicationHeader, type ReplicationSource } from './receiver.ts';
import { configurationProblem, destinationsFor } from './rules.ts';
import { LocalTarget, RemoteTarget, TagConflict, type Target } from './targets.ts';

/** With the queue's backoff capped at an hour, about six weeks of retries. */
export const REPLICATION_MAX_ATTEMPTS = 1000;
/** Index nesting followed at most (an index of indexes of manifests is two). */
const MAX_DEPTH = 4;
/** A login token is renewed this long before it expires. */
const TOKEN_MARGIN_MS = 10 * 60_000;

/** The payload of a `replication.push` job: one image, one destination. */
export interface ReplicationJob {
  accountId: string;
  repository: string;
  digest: string;
  tag?: string;
  region: string;
  registryId: string;
}

/**
 * Why a replication failed: ECR's failureCode (berth's names), the reason, and whether trying again
 * later may help.
 */
export class ReplicationFailure extends Error {
  override readonly name = 'ReplicationFailure';
  readonly code: 'ACCESS_DENIED' | 'DESTINATION_NOT_CONFIGURED' | 'DESTINATION_UNAVAILABLE' | 'DESTINATION_REJECTED' | 'INTERNAL_ERROR';
  readonly retryable: boolean;

  constructor(code: ReplicationFailure['code'], message: string, retryable: boolean) {
    super(message);
    this.code = code;
    this.retryable = retryable;
  }
}

export interface ReplicationDeps {
  meta: MetaStore;
  registry: Registry;
  /** The authorizer of the registry's own requests (the receiver admits replications with it). */
  authorizer: Authorizer;
  /** This deployment's region. */
  region: string;
  destinations: DestinationMap;
  /** Enqueues a job in the transaction given (so that it exists exactly when its status does). */
  enqueue: (job: ReplicationJob, tx: MetaStore) => Promise<void>;
  now: () => number;
  log: Logger;
}

/** Clients are per destination and source account (the replication header names the source). */
function clientKey(job: ReplicationJob): string {
  return `${job.region} ${job.registryId} ${job.accountId}`;
}

export class Replication {
  readonly receiver: ReplicationReceiver;
  private readonly deps: ReplicationDeps;
  private readonly clients = new Map<string, { client: RegistryClient; renewAt: number }>();

  constructor(deps: ReplicationDeps) {
    this.deps = deps;
    this.receiver = new ReplicationReceiver({ meta: deps.meta, registry: deps.registry, authorizer: deps.authorizer, region: deps.region, now: deps.now });
  }

  /** Why `rules` cannot be the account's replication configuration, or undefined. */
  configurationProblem(accountId: string, rules: readonly ReplicationRuleRow[]): string | undefined {
    return configurationProblem(rules, { region: this.deps.region, accountId, reachable: (r) => r === this.deps.region || this.deps.destinations.has(r) });
  }

  /**
   * After each stored manifest: a replicated push is recorded at this (destination) side; any
   * other push is queued for each destination its repository's rules name.
   */
  async stored(m: StoredManifest, within: MetaStore = this.deps.meta): Promise<void> {
    if (await this.receiver.stored(m, within)) return;
    const destinations = destinationsFor(await within.replication.configuration(m.accountId), m.repository);
    if (destinations.length === 0) return;
    const repo = await within.repositories.get(m.accountId, m.repository);
    if (repo === undefined) return;
    const now = this.deps.now();
    await within.transaction(async (tx) => {
      for (const d of destinations) {
        await tx.replication.setStatus({ repositoryId: repo.id, digest: m.digest, region: d.region, registryId: d.registryId, status: 'IN_PROGRESS', failureCode: null, failureReason: null, updatedAt: now });
        await this.deps.enqueue({ accountId: m.accountId, repository: m.repository, digest: m.digest, ...(m.tag !== undefined ? { tag: m.tag } : {}), region: d.region, registryId: d.registryId }, tx);
      }
    });
  }

  /** The `replication.push` job (attempt counts from 1). */
  async run(job: ReplicationJob, attempt: number): Promise<void> {
    const repo = await this.deps.meta.repositories.get(job.accountId, job.repository);
    if (repo === undefined || (await this.deps.meta.manifests.getMeta(repo.id, job.digest)) === undefined) {
      this.deps.log.info({ repository: job.repository, digest: job.digest }, 'image deleted before it was replicated');
      return;
    }
    const log = this.deps.log.child({ repository: job.repository, digest: job.digest, destination: `${job.region}/${job.registryId}` });
    const status = async (value: ReplicationStatusValue, failure?: ReplicationFailure, note?: string): Promise<void> => {
      await this.deps.meta.replication.setStatus({
        repositoryId: repo.id,
        digest: job.digest,
        region: job.region,
        registryId: job.registryId,
        status: value,
        failureCode: failure?.code ?? null,
        failureReason: (failure?.message ?? note)?.slice(0, 2000) ?? null,
        updatedAt: this.deps.now(),
      });
    };
    try {
      // A login token the destination no longer takes (its keys were replaced) is fetched again, once.
      const { tagSkipped } = await this.copy(repo, job).catch(async (e: unknown) => {
        if (!(e instanceof UpstreamError && e.kind === 'unauthorized' && this.clients.delete(clientKey(job)))) throw e;
        return await this.copy(repo, job);
      });
      if (tagSkipped) log.warn({ tag: job.tag }, 'the tag is immutable at the destination and holds another image: replicated without the tag');
      await status('COMPLETE', undefined, tagSkipped ? `replicated without the tag ${job.tag ?? ''}: immutable at the destination` : undefined);
      log.info({ attempt }, 'image replicated');
    } catch (e) {
      const failure = this.failureOf(e);
      if (failure.retryable && attempt < REPLICATION_MAX_ATTEMPTS) {
        log.warn({ attempt, code: failure.code, reason: failure.message }, 'replication failed; it is retried');
        await status('IN_PROGRESS', failure);
        throw failure;
      }
      log.warn({ attempt, code: failure.code, reason: failure.message }, 'replication failed');
      await status('FAILED', failure);
    }
  }

  /** Copies the image (children and blobs first), its tag, then its referrers. */
  private async copy(src: Repository, job: ReplicationJob): Promise<{ tagSkipped: boolean }> {
    const target = await this.target(src, job);
    const top = await this.manifest(src, job.digest);
    const present = await target.hasManifest(job.digest);
    if (!present) await this.copyContent(src, target, top, 0);
    let tagSkipped = false;
    if (job.tag !== undefined) {
      try {
        await target.putManifest(job.tag, top.body, top.mediaType);
      } catch (e) {
        if (!(e instanceof TagConflict)) throw e;
        tagSkipped = true;
        if (!present) await target.putManifest(job.digest, top.body, top.mediaType);
      }
    } else if (!present) {
      await target.putManifest(job.digest, top.body, top.mediaType);
    }
    for (const r of await this.deps.meta.manifests.referrers(src.id, job.digest)) await this.ensureManifest(src, target, r.digest, 0);
    return { tagSkipped };
  }

  private async ensureManifest(src: Repository, target: Target, digest: string, depth: number): Promise<void> {
    if (await target.hasManifest(digest)) return;
    const m = await this.manifest(src, digest);
    await this.copyContent(src, target, m, depth);
    await target.putManifest(digest, m.body, m.mediaType);
  }

  /** What the manifest references: child manifests, then the blobs the destination lacks. */
  private async copyContent(src: Repository, target: Target, m: Manifest, depth: number): Promise<void> {
    if (depth > MAX_DEPTH) throw new ReplicationFailure('DESTINATION_REJECTED', `manifest ${m.digest} nests indexes more than ${MAX_DEPTH} deep`, false);
    const parsed = parseManifest(m.body, m.mediaType);
    for (const child of parsed.manifests) await this.ensureManifest(src, target, child.digest, depth + 1);
    const seen = new Set<string>();
    for (const b of parsed.requiredBlobs) {
      if (seen.has(b.digest)) continue;
      seen.add(b.digest);
      if (await target.hasBlob(b.digest)) continue;
      const open = async (): Promise<Readable> => (await this.deps.registry.blobs.open(src, b.digest)).stream;
      await target.putBlob(b.digest, b.size, open);
    }
  }

  private async manifest(src: Repository, digest: string): Promise<Manifest> {
    const m = await this.deps.meta.manifests.get(src.id, digest);
    if (m === undefined) throw new ReplicationFailure('INTERNAL_ERROR', `manifest ${digest} is no longer in ${src.name}`, false);
    return m;
  }

  private async target(src: Repository, job: ReplicationJob): Promise<Target> {
    const source: ReplicationSource = { account: src.accountId, region: this.deps.region };
    if (job.region === this.deps.region) {
      const admitted = await this.receiver.admitLocal(source, job.registryId, job.repository);
      const repo = await this.deps.registry.repositories.get(job.registryId, job.repository);
      return new LocalTarget(this.deps.registry, this.receiver, admitted, repo, src);
    }
    const endpoint = this.deps.destinations.get(job.region);
    if (endpoint === undefined) throw new ReplicationFailure('DESTINATION_NOT_CONFIGURED', `berth has no endpoint for the region ${job.region} (replication.destinations)`, false);
    return new RemoteTarget(await this.client(endpoint, job, source), job.repository);
  }

  /**
   * The client of a remote destination. For a berth, /v2/ is addressed with a login token for the
   * destination registry (GetAuthorizationToken with registryIds, ADR 0012), renewed before it
   * expires, and every request says it is a replication (X-Berth-Replication).
   */
  private async client(endpoint: DestinationEndpoint, job: ReplicationJob, source: ReplicationSource): Promise<RegistryClient> {
    const key = clientKey(job);
    const cached = this.clients.get(key);
    if (cached !== undefined && this.deps.now() < cached.renewAt) return cached.client;
    // Few retries within a try: the job queue retries durably, with longer waits.
    const options = { baseUrl: endpoint.endpoint, userAgent: 'berth-replication', retries: 2 };
    let entry: { client: RegistryClient; renewAt: number };
    if (endpoint.type === 'oci') {
      const credentials = endpoint.username === undefined ? undefined : { username: endpoint.username, password: endpoint.password ?? '' };
      entry = { client: new RegistryClient({ ...options, credentials }), renewAt: Number.POSITIVE_INFINITY };
    } else {
      const { password, expiresAt } = await this.loginToken(endpoint, job);
      const header = replicationHeader(source);
      const tagged: typeof fetch = async (input, init) => {
        const headers = new Headers(init?.headers);
        headers.set(REPLICATION_HEADER, header);
        return await fetch(input, { ...init, headers });
      };
      entry = { client: new RegistryClient({ ...options, credentials: { username: 'AWS', password }, fetch: tagged }), renewAt: expiresAt - TOKEN_MARGIN_MS };
    }
    this.clients.set(key, entry);
    return entry.client;
  }

  private async loginToken(endpoint: Extract<DestinationEndpoint, { type: 'berth' }>, job: ReplicationJob): Promise<{ password: string; expiresAt: number }> {
    const ecr = new ECRClient({ endpoint: endpoint.endpoint, region: job.region, credentials: { accessKeyId: endpoint.accessKeyId, secretAccessKey: endpoint.secretAccessKey }, maxAttempts: 2 });
    try {
      const out = await ecr.send(new GetAuthorizationTokenCommand({ registryIds: [job.registryId] }));
      const data = out.authorizationData?.[0];
      const decoded = Buffer.from(data?.authorizationToken ?? '', 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon === -1) throw new ReplicationFailure('DESTINATION_REJECTED', `the berth at ${endpoint.endpoint} gave no login token`, false);
      return { password: decoded.slice(colon + 1), expiresAt: data?.expiresAt?.getTime() ?? this.deps.now() + 3_600_000 };
    } catch (e) {
      if (e instanceof ReplicationFailure) throw e;
      const err = e as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
      const status = err.$metadata?.httpStatusCode;
      const what = `GetAuthorizationToken at ${endpoint.endpoint} (region ${job.region}): ${err.name ?? 'Error'}: ${err.message ?? String(e)}`;
      if (status !== undefined && status < 500 && status !== 429) throw new ReplicationFailure('ACCESS_DENIED', `${what} (are the region and the access key right?)`, false);
      throw new ReplicationFailure('DESTINATION_UNAVAILABLE', what, true);
    } finally {
      ecr.destroy();
    }
  }

  /** The failure an error of a copy stands for. */
  private failureOf(e: unknown): ReplicationFailure {
    if (e instanceof ReplicationFailure) return e;
    if (e instanceof UpstreamError) {
      if (e.retryable) return new ReplicationFailure('DESTINATION_UNAVAILABLE', e.message, true);
      if (e.kind === 'unauthorized' || e.kind === 'denied') return new ReplicationFailure('ACCESS_DENIED', e.message, false);
      return new ReplicationFailure('DESTINATION_REJECTED', e.message, false);
    }
    if (isRegistryError(e)) {
      if (e.code === 'Denied') return new ReplicationFailure('ACCESS_DENIED', e.message, false);
      return new ReplicationFailure('DESTINATION_REJECTED', e.message, false);
    }
    return new ReplicationFailure('INTERNAL_ERROR', e instanceof Error ? e.message : String(e), true);
  }
}

