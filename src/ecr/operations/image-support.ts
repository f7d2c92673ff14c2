// Shared pieces of the image operations: image identifiers as ECR checks them, ImageDetail (with
// ECR's image size), ImageNotFoundException in ECR's words.
import { tryParseDigest } from '../../core/digest.ts';
import { INDEX_TYPES } from '../../core/media-types.ts';
import { isTag } from '../../core/names.ts';
import type { ImageScan, ImageStatus, ManifestMeta, MetaStore, Repository } from '../../meta/index.ts';
import { EcrException } from '../errors.ts';
import type { ImageDetail, ImageFailure, ImageFailureCode, ImageIdentifier } from '../generated/model.ts';
import { epochSeconds } from '../shapes.ts';

/** ECR's reason for an image that is not there. */
export const IMAGE_NOT_FOUND_REASON = 'Requested image not found';

/** An image identifier, checked: the fields given, or the failure ECR reports for it. */
export type CheckedImageId = { ok: true; digest?: string; tag?: string } | { ok: false; code: ImageFailureCode; reason: string };

/** Checks an ImageIdentifier as BatchGetImage and BatchDeleteImage do (MissingDigestAndTag, InvalidImageDigest, InvalidImageTag). */
export function checkImageId(id: ImageIdentifier): CheckedImageId {
  if (id.imageDigest === undefined && id.imageTag === undefined) {
    return { ok: false, code: 'MissingDigestAndTag', reason: 'Invalid request parameters: both tag and digest cannot be null' };
  }
  if (id.imageDigest !== undefined && tryParseDigest(id.imageDigest) === null) {
    return { ok: false, code: 'InvalidImageDigest', reason: 'Invalid request parameters: image digest should be sha256:<64 lowercase hex digits> or sha512:<128 lowercase hex digits>' };
  }
  if (id.imageTag !== undefined && !isTag(id.imageTag)) {
    return { ok: false, code: 'InvalidImageTag', reason: "Invalid request parameters: image tag should satisfy the regex '[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}'" };
  }
  const out: { ok: true; digest?: string; tag?: string } = { ok: true };
  if (id.imageDigest !== undefined) out.digest = id.imageDigest;
  if (id.imageTag !== undefined) out.tag = id.imageTag;
  return out;
}

/** The identifier as the request gave it (failures and results echo it). */
export function echoId(id: ImageIdentifier): ImageIdentifier {
  const out: ImageIdentifier = {};
  if (id.imageDigest !== undefined) out.imageDigest = id.imageDigest;
  if (id.imageTag !== undefined) out.imageTag = id.imageTag;
  return out;
}

export function failure(id: ImageIdentifier, code: ImageFailureCode, reason: string): ImageFailure {
  return { imageId: echoId(id), failureCode: code, failureReason: reason };
}

/** The reason of ImageTagDoesNotMatchDigest. */
export function tagMismatchReason(tag: string, actual: string): string {
  return `Invalid request parameters: image tag '${tag}' does not match the image digest given (the tag points at ${actual})`;
}

/**
 * Resolves a checked identifier to the digest of an image in the repository: by digest, by tag,
 * or by both (the tag must point at the digest).
 */
export async function resolveImageId(meta: MetaStore, repo: Repository, id: { digest?: string; tag?: string }): Promise<{ ok: true; digest: string } | { ok: false; code: ImageFailureCode; reason: string }> {
  if (id.tag !== undefined) {
    const digest = await meta.tags.get(repo.id, id.tag);
    if (digest === undefined) return { ok: false, code: 'ImageNotFound', reason: IMAGE_NOT_FOUND_REASON };
    if (id.digest !== undefined && id.digest !== digest) return { ok: false, code: 'ImageTagDoesNotMatchDigest', reason: tagMismatchReason(id.tag, digest) };
    return { ok: true, digest };
  }
  const digest = id.digest as string;
  const m = await meta.manifests.getMeta(repo.id, digest);
  if (m === undefined) return { ok: false, code: 'ImageNotFound', reason: IMAGE_NOT_FOUND_REASON };
  return { ok: true, digest };
}

/** ImageNotFoundException in ECR's words. */
export function imageNotFound(id: ImageIdentifier, repo: Repository): EcrException {
  return new EcrException(
    'ImageNotFoundException',
    `The image with imageId {imageDigest:'${id.imageDigest ?? 'null'}', imageTag:'${id.imageTag ?? 'null'}'} does not exist within the repository with name '${repo.name}' in the registry with id '${repo.accountId}'`,
  );
}

/**
 * ECR's imageSizeInBytes, computed from the stored manifests: for an image manifest (and any
 * artifact manifest) the sum of its layers' sizes (compressed, as pushed; the config and the
 * manifest itself are not counted); for an index (manifest list) the largest size of the manifests
 * it lists, as the ECR model documents. One instance per request caches what it has read.
 */
export class ImageSizer {
  private readonly meta: MetaStore;
  private readonly repositoryId: number;
  private readonly cache = new Map<string, Promise<number>>();

  constructor(meta: MetaStore, repositoryId: number) {
    this.meta = meta;
    this.repositoryId = repositoryId;
  }

  async size(digest: string, depth = 0): Promise<number> {
    let p = this.cache.get(digest);
    if (p === undefined) {
      p = this.compute(digest, depth);
      this.cache.set(digest, p);
    }
    return await p;
  }

  private async compute(digest: string, depth: number): Promise<number> {
    const m = await this.meta.manifests.get(this.repositoryId, digest);
    if (m === undefined) return 0;
    let doc: { layers?: unknown; blobs?: unknown; manifests?: unknown };
    try {
      doc = JSON.parse(m.body.toString('utf8')) as typeof doc;
    } catch {
      return 0;
    }
    if (INDEX_TYPES.has(m.mediaType)) {
      // Indexes of indexes are possible (nesting is bounded: digests cannot form a cycle).
      if (depth > 8) return 0;
      let max = 0;
      for (const d of descriptors(doc.manifests)) max = Math.max(max, await this.size(d.digest, depth + 1));
      return max;
    }
    return descriptors(doc.layers ?? doc.blobs).reduce((sum, d) => sum + d.size, 0);
  }
}

function descriptors(v: unknown): Array<{ digest: string; size: number }> {
  if (!Array.isArray(v)) return [];
  const out: Array<{ digest: string; size: number }> = [];
  for (const d of v as unknown[]) {
    if (typeof d !== 'object' || d === null) continue;
    const { digest, size } = d as { digest?: unknown; size?: unknown };
    if (typeof digest === 'string' && typeof size === 'number' && Number.isSafeInteger(size) && size >= 0) out.push({ digest, size });
  }
  return out;
}

/** ImageDetail: every field berth knows, with the image's last scan when there is one. */
export async function imageDetail(repo: Repository, m: ManifestMeta, tags: readonly string[], sizer: ImageSizer, scan?: ImageScan): Promise<ImageDetail> {
  const d: ImageDetail = {
    registryId: repo.accountId,
    repositoryName: repo.name,
    imageDigest: m.digest,
  };
  if (tags.length > 0) d.imageTags = [...tags];
  d.imageSizeInBytes = await sizer.size(m.digest);
  d.imagePushedAt = epochSeconds(m.pushedAt);
  d.imageManifestMediaType = m.mediaType;
  if (m.artifactType !== null) d.artifactMediaType = m.artifactType;
  if (m.lastPulledAt !== null) d.lastRecordedPullTime = epochSeconds(m.lastPulledAt);
  if (m.subjectDigest !== null) d.subjectManifestDigest = m.subjectDigest;
  d.imageStatus = m.status;
  if (m.archivedAt !== null) d.lastArchivedAt = epochSeconds(m.archivedAt);
  if (m.activatedAt !== null) d.lastActivatedAt = epochSeconds(m.activatedAt);
  if (scan !== undefined) {
    d.imageScanStatus = { status: scan.status, ...(scan.description !== null ? { description: scan.description } : {}) };
    if (scan.status === 'COMPLETE' && scan.completedAt !== null) {
      d.imageScanFindingsSummary = {
        imageScanCompletedAt: epochSeconds(scan.completedAt),
        ...(scan.dataUpdatedAt !== null ? { vulnerabilitySourceUpdatedAt: epochSeconds(scan.dataUpdatedAt) } : {}),
        findingSeverityCounts: scan.counts ?? {},
      };
    }
  }
  return d;
}

/** The image status a listing keeps: the filter's, ACTIVE when none is given (as ECR), every status for ANY. */
export function statusFilter(status: string | undefined): ImageStatus | undefined {
  if (status === 'ANY') return undefined;
  return (status ?? 'ACTIVE') as ImageStatus;
}
