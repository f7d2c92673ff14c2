import { callerArns } from '../../auth/index.ts';
import { isRegistryError } from '../../core/errors.ts';
import { stripParameters } from '../../core/media-types.ts';
import type { Image, ImageFailure } from '../generated/model.ts';
import { defineOperation } from '../operation.ts';
import { findRepository } from '../shapes.ts';
import { checkImageId, echoId, failure, IMAGE_NOT_FOUND_REASON, resolveImageId } from './image-support.ts';

// BatchGetImage: the manifests of images named by digest, tag or both, exactly as pushed. An image
// whose media type is not among acceptedMediaTypes (when given) is a failure ImageNotFound: berth
// does not convert manifests (ECR converts Docker schema 2 to schema 1; berth has no schema 1) and
// the model has no other failure code for it. Each image served is recorded as pulled, as a /v2/
// manifest GET records it (lastRecordedPullTime).
export default defineOperation('BatchGetImage', async (ctx, input) => {
  await ctx.authorize('ecr:BatchGetImage', input.repositoryName);
  const repo = await findRepository(ctx, input.repositoryName);
  const accepted = input.acceptedMediaTypes?.map((t) => stripParameters(t) ?? t);
  const images: Image[] = [];
  const failures: ImageFailure[] = [];
  const seen = new Set<string>();
  for (const id of input.imageIds) {
    const key = `${id.imageDigest ?? ''} ${id.imageTag ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const checked = checkImageId(id);
    if (!checked.ok) {
      failures.push(failure(id, checked.code, checked.reason));
      continue;
    }
    const r = await resolveImageId(ctx.meta, repo, checked);
    if (!r.ok) {
      failures.push(failure(id, r.code, r.reason));
      continue;
    }
    const meta = await ctx.meta.manifests.getMeta(repo.id, r.digest);
    if (meta === undefined) {
      failures.push(failure(id, 'ImageNotFound', IMAGE_NOT_FOUND_REASON));
      continue;
    }
    if (accepted !== undefined && !accepted.includes(meta.mediaType)) {
      failures.push(failure(id, 'ImageNotFound', `${IMAGE_NOT_FOUND_REASON}: its manifest media type ${meta.mediaType} is not among the acceptedMediaTypes`));
      continue;
    }
    let m;
    try {
      // Through the registry, so that the pull is recorded as on /v2/.
      m = await ctx.registry.manifests.get(repo, r.digest, callerArns(ctx.principal));
    } catch (e) {
      if (isRegistryError(e) && e.code === 'ManifestUnknown') {
        failures.push(failure(id, 'ImageNotFound', IMAGE_NOT_FOUND_REASON));
        continue;
      }
      if (isRegistryError(e) && e.code === 'ImageArchived') {
        failures.push(failure(id, 'ImageNotFound', `${IMAGE_NOT_FOUND_REASON}: the image is archived; restore it with UpdateImageStorageClass`));
        continue;
      }
      throw e;
    }
    images.push({
      registryId: repo.accountId,
      repositoryName: repo.name,
      imageId: { ...echoId(id), imageDigest: m.digest },
      imageManifest: m.body.toString('utf8'),
      imageManifestMediaType: m.mediaType,
    });
  }
  return { images, failures };
});
