import { callerArns } from '../../auth/index.ts';
import { isRegistryError } from '../../core/errors.ts';
import { stripParameters } from '../../core/media-types.ts';
import type { Repository } from '../../meta/index.ts';
import type { Match } from '../../proxy/service.ts';
import type { EcrContext } from '../context.ts';
import type { BatchGetImageRequest, BatchGetImageResponse, Image, ImageFailure, ImageFailureCode, ImageIdentifier } from '../generated/model.ts';
import { defineOperation } from '../operation.ts';
import { findRepository } from '../shapes.ts';
import { checkImageId, echoId, failure, IMAGE_NOT_FOUND_REASON, resolveImageId, tagMismatchReason } from './image-support.ts';

// BatchGetImage: the manifests of images named by digest, tag or both, exactly as pushed. An image
// whose media type is not among acceptedMediaTypes (when given) is a failure ImageNotFound: berth
// does not convert manifests (ECR converts Docker schema 2 to schema 1; berth has no schema 1) and
// the model has no other failure code for it. Each image served is recorded as pulled, as a /v2/
// manifest GET records it (lastRecordedPullTime). Under a pull-through cache rule, images the cache
// lacks are pulled through from upstream (failures UpstreamUnavailable, UpstreamTooManyRequests,
// UpstreamAccessDenied as ECR's model has them).
export default defineOperation('BatchGetImage', async (ctx, input) => {
  await ctx.authorize('ecr:BatchGetImage', input.repositoryName);
  const match = await ctx.proxy.match(ctx.accountId, input.repositoryName);
  if (match !== undefined) {
    const existing = await ctx.meta.repositories.get(ctx.accountId, input.repositoryName);
    if (existing === undefined || (await pullThroughNeeded(ctx, existing, input.imageIds))) return await throughCache(ctx, input, existing, match);
  }
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

/** Whether some image asked for is not cached yet (or names a tag, which may be due for revalidation). */
async function pullThroughNeeded(ctx: EcrContext, repo: Repository, ids: readonly ImageIdentifier[]): Promise<boolean> {
  for (const id of ids) {
    const checked = checkImageId(id);
    if (!checked.ok) continue;
    if (checked.tag !== undefined) return true;
    const r = await resolveImageId(ctx.meta, repo, checked);
    if (!r.ok) return true;
  }
  return false;
}

/** The ECR failure code of an upstream failure (the model's Upstream* codes). */
function upstreamCode(e: unknown): ImageFailureCode {
  if (isRegistryError(e) && e.code === 'ManifestUnknown') return 'ImageNotFound';
  if (isRegistryError(e) && e.code === 'TooManyRequests') return 'UpstreamTooManyRequests';
  if (isRegistryError(e) && e.code === 'Denied') return 'UpstreamAccessDenied';
  return 'UpstreamUnavailable';
}

/**
 * BatchGetImage of a repository under a pull-through cache rule: each image from the cache, or
 * pulled through from upstream (creating the repository), as /v2/ does; ecr:BatchImportUpstreamImage
 * and (to create) ecr:CreateRepository are needed, as in ECR.
 */
async function throughCache(ctx: EcrContext, input: BatchGetImageRequest, existing: Repository | undefined, match: Match): Promise<BatchGetImageResponse> {
  await ctx.authorize('ecr:BatchImportUpstreamImage', input.repositoryName);
  if (existing === undefined) await ctx.authorize('ecr:CreateRepository', input.repositoryName);
  let repo = existing;
  const create = async (): Promise<Repository> => (repo ??= await ctx.registry.repositories.getOrCreate(ctx.accountId, input.repositoryName, 'PULL_THROUGH_CACHE'));
  const images: Image[] = [];
  const failures: ImageFailure[] = [];
  for (const id of input.imageIds) {
    const checked = checkImageId(id);
    if (!checked.ok) {
      failures.push(failure(id, checked.code, checked.reason));
      continue;
    }
    try {
      const reference = checked.digest ?? checked.tag ?? '';
      const fetched = await ctx.proxy.manifest({ repo, mayImport: async () => undefined, create }, match, reference);
      if (fetched !== undefined) {
        if (checked.digest !== undefined && checked.tag !== undefined && fetched.digest !== checked.digest) {
          failures.push(failure(id, 'ImageTagDoesNotMatchDigest', tagMismatchReason(checked.tag, fetched.digest)));
          continue;
        }
        images.push({ registryId: ctx.accountId, repositoryName: input.repositoryName, imageId: { ...echoId(id), imageDigest: fetched.digest }, imageManifest: fetched.body.toString('utf8'), imageManifestMediaType: fetched.mediaType });
        continue;
      }
      const local = await create();
      const r = await resolveImageId(ctx.meta, local, checked);
      if (!r.ok) {
        failures.push(failure(id, r.code, r.reason));
        continue;
      }
      const m = await ctx.registry.manifests.get(local, r.digest, callerArns(ctx.principal));
      images.push({ registryId: ctx.accountId, repositoryName: input.repositoryName, imageId: { ...echoId(id), imageDigest: m.digest }, imageManifest: m.body.toString('utf8'), imageManifestMediaType: m.mediaType });
    } catch (e) {
      const code = upstreamCode(e);
      failures.push(failure(id, code, code === 'ImageNotFound' ? IMAGE_NOT_FOUND_REASON : e instanceof Error ? e.message : String(e)));
    }
  }
  return { images, failures };
}
