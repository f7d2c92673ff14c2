import { isRegistryError } from '../../core/errors.ts';
import type { ImageFailure, ImageIdentifier } from '../generated/model.ts';
import { defineOperation } from '../operation.ts';
import { findRepository } from '../shapes.ts';
import { checkImageId, failure, IMAGE_NOT_FOUND_REASON, tagMismatchReason } from './image-support.ts';

// BatchDeleteImage, each id on its own (a failure changes nothing and does not stop the others):
// - by digest: the image and all its tags are deleted (one entry per tag removed, or one for an
//   untagged image); an image an index lists is refused with ImageReferencedByManifestList;
// - by tag (with a digest too, the tag must point at it): the tag is removed, and an image left
//   without tags is deleted with it, as ECR documents ("When you remove the last tag from an image,
//   the image is deleted"), unless an index lists it: it then stays, untagged, like the other
//   children of the index.
// Events are written as for the /v2/ deletes.
export default defineOperation('BatchDeleteImage', async (ctx, input) => {
  await ctx.authorize('ecr:BatchDeleteImage', input.repositoryName);
  const repo = await findRepository(ctx, input.repositoryName);
  const imageIds: ImageIdentifier[] = [];
  const failures: ImageFailure[] = [];
  for (const id of input.imageIds) {
    const checked = checkImageId(id);
    if (!checked.ok) {
      failures.push(failure(id, checked.code, checked.reason));
      continue;
    }
    if (checked.tag !== undefined) {
      const r = await ctx.registry.manifests.untag(repo, checked.tag, checked.digest);
      if (r.kind === 'missing') failures.push(failure(id, 'ImageNotFound', IMAGE_NOT_FOUND_REASON));
      else if (r.kind === 'mismatch') failures.push(failure(id, 'ImageTagDoesNotMatchDigest', tagMismatchReason(checked.tag, r.digest)));
      else imageIds.push({ imageDigest: r.digest, imageTag: checked.tag });
      continue;
    }
    const digest = checked.digest as string;
    try {
      const r = await ctx.registry.manifests.delete(repo, digest);
      if (r.tags.length === 0) imageIds.push({ imageDigest: r.digest });
      else for (const tag of r.tags) imageIds.push({ imageDigest: r.digest, imageTag: tag });
    } catch (e) {
      if (isRegistryError(e) && e.code === 'ManifestUnknown') {
        failures.push(failure(id, 'ImageNotFound', IMAGE_NOT_FOUND_REASON));
      } else if (isRegistryError(e) && e.code === 'ManifestReferenced') {
        const indexes = (e.detail as { indexes?: string[] } | undefined)?.indexes ?? [];
        failures.push(failure(id, 'ImageReferencedByManifestList', `Requested image referenced by manifest list: [${indexes.join(', ')}]`));
      } else {
        throw e;
      }
    }
  }
  if (imageIds.length > 0) ctx.log.info({ repository: repo.name, account: repo.accountId, deleted: imageIds.length }, 'images deleted');
  return { imageIds, failures };
});
