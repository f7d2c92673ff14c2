import { Readable } from 'node:stream';
import { isRegistryError } from '../../core/errors.ts';
import type { Repository } from '../../meta/index.ts';
import { EcrException } from '../errors.ts';
import { defineOperation } from '../operation.ts';
import { findRepository } from '../shapes.ts';
import { formatPartRecord, MAX_LAYER_SIZE, MAX_PARTS, MIN_PART_SIZE, parsePartRecord, withUpload } from './layer-support.ts';

// UploadLayerPart: appends a part through the same upload use-case as a /v2/ PATCH. A part must
// start where the upload ends and partLastByte - partFirstByte + 1 must be its length; otherwise
// InvalidLayerPartException, whose body carries registryId, repositoryName, uploadId and
// lastValidByteReceived (the upload's last byte, absent while it has none) so that a client can
// resume. ECR's quotas: at most 4,200 parts and 52,000 MiB per layer (LimitExceededException); a
// part is at most 20 MiB (the model's limit, InvalidParameterException). A part under 5 MiB is
// accepted here and refused at completion if another part followed it (LayerPartTooSmallException,
// as ECR does: the model lists it for CompleteLayerUpload only). A refused part changes nothing.
export default defineOperation('UploadLayerPart', async (ctx, input) => {
  await ctx.authorize('ecr:UploadLayerPart', input.repositoryName);
  const repo = await findRepository(ctx, input.repositoryName);
  const id = input.uploadId;
  const size = await withUpload(repo, id, async () => await ctx.registry.uploads.size(repo, id));
  const bytes = Buffer.from(input.layerPartBlob, 'base64');
  const first = input.partFirstByte;
  const last = input.partLastByte;

  if (last < first) throw invalidPart(repo, id, size, `The part's last byte (${last}) is before its first byte (${first})`);
  if (last - first + 1 !== bytes.length) {
    throw invalidPart(repo, id, size, `The part spans bytes ${first} to ${last} (${last - first + 1} bytes) but layerPartBlob has ${bytes.length} bytes`);
  }
  if (first !== size) {
    throw invalidPart(repo, id, size, size === 0 ? `The first part must start at byte 0, not ${first}` : `The part must start at byte ${size}, right after the last byte received (${size - 1}), not at ${first}`);
  }
  const record = parsePartRecord(await withUpload(repo, id, async () => await ctx.registry.uploads.readNote(repo, id)));
  if (record.parts >= MAX_PARTS) {
    throw new EcrException('LimitExceededException', `The upload with id '${id}' already has ${record.parts} parts, the most a layer can have`);
  }
  if (size + bytes.length > MAX_LAYER_SIZE) {
    throw new EcrException('LimitExceededException', `The layer would be ${size + bytes.length} bytes, more than the maximum layer size of ${MAX_LAYER_SIZE} bytes (52,000 MiB)`);
  }

  let end: number;
  try {
    end = await withUpload(repo, id, async () => await ctx.registry.uploads.append(repo, id, Readable.from([bytes]), { start: first, length: bytes.length }));
  } catch (e) {
    // Another request appended to the upload meanwhile.
    if (isRegistryError(e) && e.code === 'ChunkOutOfOrder') {
      const now = await withUpload(repo, id, async () => await ctx.registry.uploads.size(repo, id));
      throw invalidPart(repo, id, now, `The part must start at byte ${now}, not at ${first}`);
    }
    throw e;
  }
  await ctx.registry.uploads.writeNote(repo, id, formatPartRecord({ parts: record.parts + 1, smallPartEnd: record.smallPartEnd ?? (bytes.length < MIN_PART_SIZE ? end : null) }));
  return { registryId: repo.accountId, repositoryName: repo.name, uploadId: id, lastByteReceived: end - 1 };
});

function invalidPart(repo: Repository, uploadId: string, size: number, message: string): EcrException {
  return new EcrException('InvalidLayerPartException', message, 400, {
    registryId: repo.accountId,
    repositoryName: repo.name,
    uploadId,
    ...(size > 0 ? { lastValidByteReceived: size - 1 } : {}),
  });
}
