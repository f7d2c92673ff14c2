import { parseDigest } from '../../core/digest.ts';
import { isRegistryError } from '../../core/errors.ts';
import { EcrException } from '../errors.ts';
import { defineOperation } from '../operation.ts';
import { findRepository } from '../shapes.ts';
import { MIN_PART_SIZE, parsePartRecord, withUpload } from './layer-support.ts';

// CompleteLayerUpload: the same completion as a /v2/ PUT ?digest=: the bytes are verified against
// the one digest given, stored once and linked into the repository, and the upload ends. Refusals,
// in this order, change nothing (the upload stays as it was): more than one digest
// (InvalidParameterException; ECR takes exactly one), no such upload (UploadNotFoundException), no
// byte uploaded (EmptyUploadException), a part under 5 MiB that is not the last
// (LayerPartTooSmallException), content that does not match the digest (InvalidLayerException).
// When the repository already held the layer, the upload is verified and ended like any other (its
// bytes are discarded: one copy per digest) and ECR's LayerAlreadyExistsException is answered;
// clients (amazon-ecr-containerd-resolver) treat it as success. Linking is then moot: the
// exception means the repository has the layer.
export default defineOperation('CompleteLayerUpload', async (ctx, input) => {
  await ctx.authorize('ecr:CompleteLayerUpload', input.repositoryName);
  const repo = await findRepository(ctx, input.repositoryName);
  const id = input.uploadId;
  if (input.layerDigests.length !== 1) {
    throw new EcrException('InvalidParameterException', `Invalid parameter at 'layerDigests' failed to satisfy constraint: 'must contain exactly one digest, the layer's' (it has ${input.layerDigests.length})`);
  }
  const digest = parseDigest(input.layerDigests[0] as string, 'layerDigests').digest;

  const size = await withUpload(repo, id, async () => await ctx.registry.uploads.size(repo, id));
  if (size === 0) throw new EcrException('EmptyUploadException', `The upload with id '${id}' contains no layer parts`);
  const record = parsePartRecord(await withUpload(repo, id, async () => await ctx.registry.uploads.readNote(repo, id)));
  if (record.smallPartEnd !== null && record.smallPartEnd < size) {
    throw new EcrException(
      'LayerPartTooSmallException',
      `Layer parts must be at least ${MIN_PART_SIZE} bytes (5 MiB) except the last one; the part ending at byte ${record.smallPartEnd - 1} of upload '${id}' is smaller and is not the last`,
    );
  }

  const existed = (await ctx.meta.blobs.getInRepository(repo.id, digest)) !== undefined;
  try {
    await withUpload(repo, id, async () => await ctx.registry.uploads.complete(repo, id, digest));
  } catch (e) {
    if (isRegistryError(e) && e.code === 'DigestMismatch') {
      const actual = (e.detail as { actual?: unknown } | undefined)?.actual;
      throw new EcrException('InvalidLayerException', `The digest of the uploaded layer${typeof actual === 'string' ? `, '${actual}',` : ''} does not match the layer digest given, '${digest}'`);
    }
    throw e;
  }
  if (existed) {
    throw new EcrException('LayerAlreadyExistsException', `The layer with digest '${digest}' already exists in the repository with name '${repo.name}' in the registry with id '${repo.accountId}'`);
  }
  ctx.log.info({ repository: repo.name, account: repo.accountId, digest, size }, 'layer upload completed');
  return { registryId: repo.accountId, repositoryName: repo.name, uploadId: id, layerDigest: digest };
});
