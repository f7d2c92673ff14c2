import { defineOperation } from '../operation.ts';
import { findRepository } from '../shapes.ts';
import { PART_SIZE } from './layer-support.ts';

// InitiateLayerUpload: an upload session of the same kind /v2/ uses (POST /v2/<name>/blobs/uploads/),
// so its id also works there and a /v2/ upload's id works with UploadLayerPart. The repository must
// exist (the API never creates one). partSize is what ECR answers, 10 MiB; parts of 5 to 20 MiB are
// accepted, the last one may be smaller.
export default defineOperation('InitiateLayerUpload', async (ctx, input) => {
  await ctx.authorize('ecr:InitiateLayerUpload', input.repositoryName);
  const repo = await findRepository(ctx, input.repositoryName);
  const { id } = await ctx.registry.uploads.start(repo);
  ctx.log.debug({ repository: repo.name, account: repo.accountId, upload: id }, 'layer upload initiated');
  return { uploadId: id, partSize: PART_SIZE };
});
