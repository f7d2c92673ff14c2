// Shared pieces of the layer operations: ECR's layer-part quotas, the part record an API upload
// keeps, and the layer exceptions in ECR's words.
import { isRegistryError } from '../../core/errors.ts';
import type { MetaStore, Repository } from '../../meta/index.ts';
import { EcrException } from '../errors.ts';

const MiB = 1024 * 1024;

/** What InitiateLayerUpload answers as partSize: ECR's 10 MiB (its "maximum layer part size" quota). */
export const PART_SIZE = 10 * MiB;
/** ECR's "minimum layer part size": every part but the last must be at least this big (checked on completion). */
export const MIN_PART_SIZE = 5 * MiB;
/** ECR's "layer parts" quota. */
export const MAX_PARTS = 4200;
/** ECR's "maximum layer size" quota (52,000 MiB). */
export const MAX_LAYER_SIZE = 52_000 * MiB;

/**
 * What an upload driven by UploadLayerPart records about its parts (kept with the upload, see
 * UploadService.readNote): how many there were, and where the first part smaller than
 * MIN_PART_SIZE ended (null when none was), so that completion can tell whether a small part was
 * followed by another one.
 */
export interface PartRecord {
  parts: number;
  smallPartEnd: number | null;
}

export function parsePartRecord(text: string | null): PartRecord {
  if (text === null) return { parts: 0, smallPartEnd: null };
  try {
    const v = JSON.parse(text) as { v?: unknown; parts?: unknown; smallPartEnd?: unknown };
    if (v.v === 1 && typeof v.parts === 'number' && (v.smallPartEnd === null || typeof v.smallPartEnd === 'number')) return { parts: v.parts, smallPartEnd: v.smallPartEnd };
  } catch {
    // fall through: a note of another kind is no record of parts
  }
  return { parts: 0, smallPartEnd: null };
}

export function formatPartRecord(r: PartRecord): string {
  return JSON.stringify({ v: 1, parts: r.parts, smallPartEnd: r.smallPartEnd });
}

export function uploadNotFound(repo: Repository, uploadId: string): EcrException {
  return new EcrException('UploadNotFoundException', `Upload with id '${uploadId}' does not exist in the repository with name '${repo.name}' in the registry with id '${repo.accountId}'`);
}

/** Rethrows the registry's "no such upload" as UploadNotFoundException in ECR's words. */
export async function withUpload<T>(repo: Repository, uploadId: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isRegistryError(e) && e.code === 'BlobUploadUnknown') throw uploadNotFound(repo, uploadId);
    throw e;
  }
}

/**
 * The media type a manifest of the repository gives the blob (as its config, a layer or an artifact
 * blob), or undefined when no manifest references it yet. `cache` holds the manifests read.
 */
export async function layerMediaType(meta: MetaStore, repo: Repository, digest: string, cache: Map<string, unknown>): Promise<string | undefined> {
  for (const m of await meta.manifests.blobUsers(repo.id, digest, 5)) {
    let doc = cache.get(m);
    if (doc === undefined) {
      const stored = await meta.manifests.get(repo.id, m);
      try {
        doc = stored === undefined ? null : (JSON.parse(stored.body.toString('utf8')) as unknown);
      } catch {
        doc = null;
      }
      cache.set(m, doc);
    }
    if (typeof doc !== 'object' || doc === null) continue;
    const { config, layers, blobs } = doc as { config?: unknown; layers?: unknown; blobs?: unknown };
    const descriptors = [config, ...(Array.isArray(layers) ? (layers as unknown[]) : []), ...(Array.isArray(blobs) ? (blobs as unknown[]) : [])];
    for (const d of descriptors) {
      if (typeof d !== 'object' || d === null) continue;
      const { digest: dd, mediaType } = d as { digest?: unknown; mediaType?: unknown };
      if (dd === digest && typeof mediaType === 'string') return mediaType;
    }
  }
  return undefined;
}
