// Manifests and tags of a repository: push (with validation of everything it references), pull,
// delete by digest or by tag, tag listing, referrers.
import { isRegistryError, RegistryError } from '../core/errors.ts';
import { parseDigest } from '../core/digest.ts';
import { parseManifest, type Descriptor, type ParsedManifest } from '../core/manifest.ts';
import { MT } from '../core/media-types.ts';
import { immutableTagMessage, tagIsMutable } from '../core/mutability.ts';
import { parseReference, type Reference } from '../core/names.ts';
import type { Manifest, ManifestMeta, ManifestReference, MetaStore, Repository } from '../meta/index.ts';
import type { RegistryContext } from './context.ts';
import { ensureRepository } from './repositories.ts';
import { restoreImage } from './archive.ts';
import { defaultGcSettings, type GcSettings } from './gc.ts';
import type { PullTimeRecorder } from './pull-times.ts';

export interface PutManifestResult {
  digest: string;
  mediaType: string;
  /** The subject's digest, when the manifest has one (sent back as OCI-Subject). */
  subject?: string;
  /** Whether the manifest was new to the repository. */
  created: boolean;
  /** The digest the pushed tag pointed at before, when it existed (equal to `digest` when it did not move). */
  previous?: string;
}

/** What BatchDeleteImage's removal of a tag did. */
export type UntagResult =
  | { kind: 'missing' }
  | { kind: 'mismatch'; digest: string }
  | { kind: 'removed'; digest: string; imageDeleted: boolean };

/** The event of a tag removed from an image (a /v2/ DELETE by tag, or BatchDeleteImage by tag). */
async function tagRemoved(tx: MetaStore, repo: Repository, tag: string, digest: string, now: number): Promise<void> {
  await tx.events.append({
    accountId: repo.accountId,
    type: 'image.delete',
    repository: repo.name,
    digest,
    tag,
    detail: { 'action-type': 'DELETE', result: 'SUCCESS', 'repository-name': repo.name, 'image-digest': digest, 'image-tag': tag },
    createdAt: now,
  });
}

/** An archived image is listed but not pulled: 404 on /v2/, ImageNotFound on BatchGetImage. */
function archived(repo: Repository, m: ManifestMeta): RegistryError {
  return new RegistryError('ImageArchived', `manifest ${m.digest} in repository ${repo.name} is archived; restore it (UpdateImageStorageClass STANDARD, or push it again) to pull it`, { digest: m.digest, status: m.status });
}

/** A manifest stored by a push (new to the repository, or tagged anew). */
export interface StoredManifest {
  accountId: string;
  repository: string;
  digest: string;
  mediaType: string;
  configMediaType: string | null;
  tag?: string;
}

export class ManifestService {
  private readonly ctx: RegistryContext;
  private readonly gc: GcSettings;
  private readonly pulls: PullTimeRecorder | undefined;
  private readonly listeners: Array<(m: StoredManifest) => Promise<void>> = [];
  private readonly txListeners: Array<(m: StoredManifest, tx: MetaStore) => Promise<void>> = [];

  constructor(ctx: RegistryContext, gc: GcSettings = defaultGcSettings(), pulls?: PullTimeRecorder) {
    this.ctx = ctx;
    this.gc = gc;
    this.pulls = pulls;
  }

  /** Runs `listener` after each push that stored a new manifest (scan on push); its failure does not fail the push. */
  onStored(listener: (m: StoredManifest) => Promise<void>): void {
    this.listeners.push(listener);
  }

  /**
   * Runs `listener` inside the push's transaction when a push stores a new manifest or moves a tag
   * onto one (replication: its work is queued atomically with the push, so a crash loses neither);
   * its failure fails the push.
   */
  onStoredInTransaction(listener: (m: StoredManifest, tx: MetaStore) => Promise<void>): void {
    this.txListeners.push(listener);
  }

  private async resolve(repo: Repository, reference: string): Promise<string> {
    const ref = readReference(repo, reference);
    if (ref.kind === 'digest') return ref.digest.digest;
    const digest = await this.ctx.meta.tags.get(repo.id, ref.tag);
    if (digest === undefined) throw new RegistryError('ManifestUnknown', `manifest tagged "${ref.tag}" is not in repository ${repo.name}`, { tag: ref.tag });
    return digest;
  }

  async head(repo: Repository, reference: string): Promise<ManifestMeta> {
    const digest = await this.resolve(repo, reference);
    const m = await this.ctx.meta.manifests.getMeta(repo.id, digest);
    if (m === undefined) throw new RegistryError('ManifestUnknown', `manifest ${digest} is not in repository ${repo.name}`, { digest });
    if (m.status !== 'ACTIVE') throw archived(repo, m);
    return m;
  }

  /**
   * The manifest, as a pull: its last recorded pull time moves (in the background), unless the
   * caller (`callerArns`: its ARN, and its role's for a role session) is on the registry's
   * pull-time exclusion list.
   */
  async get(repo: Repository, reference: string, callerArns: readonly string[] = []): Promise<Manifest> {
    const digest = await this.resolve(repo, reference);
    const m = await this.ctx.meta.manifests.get(repo.id, digest);
    if (m === undefined) throw new RegistryError('ManifestUnknown', `manifest ${digest} is not in repository ${repo.name}`, { digest });
    if (m.status !== 'ACTIVE') throw archived(repo, m);
    this.pulls?.note(repo, m, callerArns);
    return m;
  }

  /**
   * Stores a manifest pushed to `target`; the repository is created in the same transaction when it
   * does not exist yet (a push to a new repository creates it), so a refused push creates nothing.
   */
  async put(target: { accountId: string; name: string }, reference: string, body: Buffer, contentType: string | undefined): Promise<PutManifestResult> {
    const ref = parseReference(reference);
    const parsed = parseManifest(body, contentType, ref.kind === 'digest' ? ref.digest.algorithm : 'sha256');
    if (ref.kind === 'digest' && parsed.digest !== ref.digest.digest) {
      throw new RegistryError('ManifestDigestMismatch', `the manifest's digest is ${parsed.digest}, not ${ref.digest.digest} as in the URL`, { expected: ref.digest.digest, actual: parsed.digest });
    }
    const references: ManifestReference[] = [
      ...parsed.requiredBlobs.map((d) => ({ childDigest: d.digest, kind: 'blob' as const })),
      ...parsed.manifests.map((d) => ({ childDigest: d.digest, kind: 'manifest' as const })),
    ];
    const tag = ref.kind === 'tag' ? ref.tag : undefined;
    // What the push listeners are told (the repository is the target's, created or not).
    const stored: StoredManifest = { accountId: target.accountId, repository: target.name, digest: parsed.digest, mediaType: parsed.mediaType, configMediaType: parsed.config?.mediaType ?? null, ...(tag !== undefined ? { tag } : {}) };
    const now = this.ctx.now();
    const { created, repoCreated, previous } = await this.ctx.meta.transaction(async (tx) => {
      const { repository: repo, created: repoCreated } = await ensureRepository(tx, target.accountId, target.name, now);
      // Moves of this tag by other processes wait for this transaction (the previous digest stays right).
      if (tag !== undefined) {
        await tx.tags.lock(repo.id, tag);
        // Tag immutability (all four modes): an immutable tag never moves; pushing its digest again is
        // fine. Only a tag the settings make immutable costs the extra read.
        if (!tagIsMutable(repo.settings, tag)) {
          const current = await tx.tags.get(repo.id, tag);
          if (current !== undefined && current !== parsed.digest) {
            throw new RegistryError('ImageTagImmutable', immutableTagMessage(repo.settings, repo.name, tag), { tag, digest: current });
          }
        }
      }
      // Checked inside the transaction, so a concurrent blob or manifest delete cannot slip in between;
      // the links are locked FOR SHARE until the commit, so a garbage collector deciding one of them
      // either waits and then sees this manifest's references, or removed it first (ADR 0014).
      await this.checkReferences(tx, repo, parsed);
      await this.gc.hooks.manifestLinksLocked?.(parsed.digest);
      const inserted = await tx.manifests.put({
        repositoryId: repo.id,
        digest: parsed.digest,
        mediaType: parsed.mediaType,
        size: parsed.size,
        artifactType: parsed.artifactType ?? null,
        subjectDigest: parsed.subject?.digest ?? null,
        configDigest: parsed.config?.digest ?? null,
        annotations: parsed.annotations ?? null,
        body,
        pushedAt: now,
        references,
      });
      // Pushing an archived image again restores it (and an index restores the manifests it lists).
      if (!inserted || parsed.manifests.length > 0) await restoreImage(tx, repo, parsed.digest, now);
      let previous: string | undefined;
      if (tag !== undefined) previous = await tx.tags.put(repo.id, tag, parsed.digest, now);
      if (inserted || (tag !== undefined && previous !== parsed.digest)) {
        await tx.events.append({
          accountId: repo.accountId,
          type: 'image.push',
          repository: repo.name,
          digest: parsed.digest,
          tag: tag ?? null,
          detail: {
            'action-type': 'PUSH',
            result: 'SUCCESS',
            'repository-name': repo.name,
            'image-digest': parsed.digest,
            'image-tag': tag ?? '',
            'manifest-media-type': parsed.mediaType,
            ...(parsed.artifactType !== undefined ? { 'artifact-media-type': parsed.artifactType } : {}),
            ...(previous !== undefined && previous !== parsed.digest ? { 'previous-image-digest': previous } : {}),
          },
          createdAt: now,
        });
        for (const listener of this.txListeners) await listener(stored, tx);
      }
      return { created: inserted, repoCreated, previous };
    });
    if (repoCreated) this.ctx.log.info({ repository: target.name, account: target.accountId }, 'repository created');
    if (created) {
      for (const listener of this.listeners) {
        await listener(stored).catch((err: unknown) => this.ctx.log.error({ err, repository: target.name, digest: parsed.digest }, 'a push listener failed'));
      }
    }
    const result: PutManifestResult = { digest: parsed.digest, mediaType: parsed.mediaType, created };
    if (parsed.subject !== undefined) result.subject = parsed.subject.digest;
    if (previous !== undefined) result.previous = previous;
    return result;
  }

  /**
   * Every blob and child manifest the manifest lists must be in the repository, with the size given.
   * Inside the storing transaction: the blobs' links are locked FOR SHARE (see put).
   */
  private async checkReferences(meta: MetaStore, repo: Repository, parsed: ParsedManifest): Promise<void> {
    const missing: Descriptor[] = [];
    const wrongSize: Array<{ digest: string; declared: number; actual: number }> = [];
    if (parsed.requiredBlobs.length > 0) {
      const sizes = await meta.blobs.lockInRepository(repo.id, uniqueDigests(parsed.requiredBlobs));
      for (const d of parsed.requiredBlobs) {
        const size = sizes.get(d.digest);
        if (size === undefined) missing.push(d);
        else if (size !== d.size) wrongSize.push({ digest: d.digest, declared: d.size, actual: size });
      }
    }
    if (missing.length > 0) {
      throw new RegistryError('ManifestBlobUnknown', `the manifest references blobs that are not in repository ${repo.name}: ${missing.map((d) => d.digest).join(', ')}`, {
        missing: missing.map((d) => d.digest),
      });
    }
    if (parsed.manifests.length > 0) {
      const sizes = await meta.manifests.sizes(repo.id, uniqueDigests(parsed.manifests));
      const absent: string[] = [];
      for (const d of parsed.manifests) {
        const size = sizes.get(d.digest);
        if (size === undefined) absent.push(d.digest);
        else if (size !== d.size) wrongSize.push({ digest: d.digest, declared: d.size, actual: size });
      }
      if (absent.length > 0) {
        throw new RegistryError('ManifestReferenceUnknown', `the index references manifests that are not in repository ${repo.name}: ${absent.join(', ')}`, { missing: absent });
      }
    }
    if (wrongSize.length > 0) {
      const w = wrongSize[0] as { digest: string; declared: number; actual: number };
      throw new RegistryError('ManifestInvalid', `descriptor of ${w.digest} declares size ${w.declared} but the stored content has ${w.actual} bytes`, { sizes: wrongSize });
    }
  }

  /**
   * DELETE by tag removes the tag; DELETE by digest removes the manifest and every tag pointing at
   * it. A manifest that an index in the repository lists is refused: delete the index first.
   * Returns the digest and the tags removed.
   */
  async delete(repo: Repository, reference: string): Promise<{ digest: string; tags: string[] }> {
    const ref = readReference(repo, reference);
    const now = this.ctx.now();
    return await this.ctx.meta.transaction(async (tx) => {
      if (ref.kind === 'tag') {
        await tx.tags.lock(repo.id, ref.tag);
        const digest = await tx.tags.delete(repo.id, ref.tag);
        if (digest === undefined) throw new RegistryError('ManifestUnknown', `manifest tagged "${ref.tag}" is not in repository ${repo.name}`, { tag: ref.tag });
        await tagRemoved(tx, repo, ref.tag, digest, now);
        return { digest, tags: [ref.tag] };
      }
      return { digest: ref.digest.digest, tags: await this.deleteManifest(tx, repo, ref.digest.digest, now) };
    });
  }

  /** Inside a transaction: deletes the manifest and its tags (returned), unless an index in the repository lists it. */
  private async deleteManifest(tx: MetaStore, repo: Repository, digest: string, now: number): Promise<string[]> {
    const meta = await tx.manifests.getMeta(repo.id, digest);
    if (meta === undefined) throw new RegistryError('ManifestUnknown', `manifest ${digest} is not in repository ${repo.name}`, { digest });
    const parents = (await tx.manifests.parents(repo.id, digest)).filter((p) => p !== digest);
    if (parents.length > 0) {
      throw new RegistryError('ManifestReferenced', `manifest ${digest} is listed by index ${parents.slice(0, 5).join(', ')} in repository ${repo.name}; delete the index first`, {
        digest,
        indexes: parents.slice(0, 5),
      });
    }
    const tags = await tx.tags.forDigest(repo.id, digest);
    // The links to the blobs it referenced become candidates, due a grace period from now (a client
    // pushing the same image again meanwhile still finds its blobs).
    await tx.manifests.delete(repo.id, digest, now + this.gc.gracePeriodMs);
    await tx.events.append({
      accountId: repo.accountId,
      type: 'image.delete',
      repository: repo.name,
      digest,
      tag: null,
      detail: { 'action-type': 'DELETE', result: 'SUCCESS', 'repository-name': repo.name, 'image-digest': digest, 'image-tags': tags, 'manifest-media-type': meta.mediaType },
      createdAt: now,
    });
    return tags;
  }

  /**
   * ECR's BatchDeleteImage by tag: removes the tag (when `expectDigest` is given, only if the tag
   * points at it). An image left without tags is deleted with it, as ECR deletes an image together
   * with its last tag, unless an index in the repository lists it: then it stays, untagged, like the
   * index's other children.
   */
  async untag(repo: Repository, tag: string, expectDigest?: string): Promise<UntagResult> {
    const now = this.ctx.now();
    return await this.ctx.meta.transaction(async (tx): Promise<UntagResult> => {
      await tx.tags.lock(repo.id, tag);
      const digest = await tx.tags.get(repo.id, tag);
      if (digest === undefined) return { kind: 'missing' };
      if (expectDigest !== undefined && digest !== expectDigest) return { kind: 'mismatch', digest };
      await tx.tags.delete(repo.id, tag);
      await tagRemoved(tx, repo, tag, digest, now);
      const untagged = (await tx.tags.forDigest(repo.id, digest)).length === 0;
      const listed = (await tx.manifests.parents(repo.id, digest)).some((p) => p !== digest);
      if (!untagged || listed) return { kind: 'removed', digest, imageDeleted: false };
      await this.deleteManifest(tx, repo, digest, now);
      return { kind: 'removed', digest, imageDeleted: true };
    });
  }

  /** Tags in byte order after `last`, at most `n`. */
  async listTags(repo: Repository, n: number, last?: string): Promise<string[]> {
    return await this.ctx.meta.tags.list(repo.id, { after: last, limit: n });
  }

  /** The referrers index of `subject` (OCI distribution-spec "Listing Referrers"). */
  async referrers(repo: Repository, subject: string, artifactType?: string): Promise<{ schemaVersion: 2; mediaType: string; manifests: Descriptor[] }> {
    parseDigest(subject);
    // Archived referrers are not listed: they cannot be pulled until restored.
    const rows = (await this.ctx.meta.manifests.referrers(repo.id, subject, artifactType)).filter((m) => m.status === 'ACTIVE');
    return {
      schemaVersion: 2,
      mediaType: MT.ociIndex,
      manifests: rows.map((m) => {
        const d: Descriptor = { mediaType: m.mediaType, digest: m.digest, size: m.size };
        if (m.artifactType !== null) d.artifactType = m.artifactType;
        if (m.annotations !== null) d.annotations = m.annotations;
        return d;
      }),
    };
  }
}

/**
 * A reference to read or delete: a string that cannot be a tag names no manifest (404), while a
 * malformed digest is still a bad request.
 */
function readReference(repo: Repository, reference: string): Reference {
  try {
    return parseReference(reference);
  } catch (e) {
    if (isRegistryError(e) && e.code === 'TagInvalid') {
      throw new RegistryError('ManifestUnknown', `no manifest is tagged "${reference.slice(0, 200)}" in repository ${repo.name}: it is not a valid tag`, { tag: reference.slice(0, 200) });
    }
    throw e;
  }
}

function uniqueDigests(ds: readonly Descriptor[]): string[] {
  return [...new Set(ds.map((d) => d.digest))];
}
