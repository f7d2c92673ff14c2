// The storage layout, in one place.
//
//   blobs/<algorithm>/<first two hex>/<hex>     content-addressed blob bytes, one copy per digest
//   uploads/<upload id>/data                    bytes of an upload in progress
//
// Everything else (which repositories hold which blobs, manifests, tags, upload sessions) lives in
// the metadata database.
import { parseDigest } from '../core/digest.ts';

export function blobKey(digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return `blobs/${algorithm}/${hex.slice(0, 2)}/${hex}`;
}

export const UPLOADS_PREFIX = 'uploads/';

export function uploadDataKey(uploadId: string): string {
  if (!/^[a-zA-Z0-9-]{8,64}$/.test(uploadId)) throw new Error(`bad upload id ${uploadId}`);
  return `${UPLOADS_PREFIX}${uploadId}/data`;
}

export function uploadPrefix(uploadId: string): string {
  return `${UPLOADS_PREFIX}${uploadId}/`;
}
