import { EcrException } from '../errors.ts';
import type { ImageDetail } from '../generated/model.ts';
import { defineOperation } from '../operation.ts';
import { decodeToken, encodeToken, findRepository } from '../shapes.ts';
import { checkImageId, imageDetail, imageNotFound, ImageSizer, resolveImageId, statusFilter } from './image-support.ts';

// DescribeImages: one ImageDetail per image (by imageIds, whatever their status, or every image
// passing the filter (ACTIVE ones unless its imageStatus says otherwise), in digest order, pages of
// maxResults, default 100). An id that names no image fails the whole request
// with ImageNotFoundException, as ECR does; ids naming the same image give it once.
export default defineOperation('DescribeImages', async (ctx, input) => {
  await ctx.authorize('ecr:DescribeImages', input.repositoryName);
  const repo = await findRepository(ctx, input.repositoryName);
  const sizer = new ImageSizer(ctx.meta, repo.id);

  if (input.imageIds !== undefined) {
    if (input.nextToken !== undefined || input.maxResults !== undefined || input.filter !== undefined) {
      throw new EcrException('InvalidParameterException', 'Invalid parameter: nextToken, maxResults and filter cannot be used together with imageIds');
    }
    const digests: string[] = [];
    for (const id of input.imageIds) {
      const checked = checkImageId(id);
      if (!checked.ok) throw new EcrException('InvalidParameterException', `Invalid parameter at 'imageIds': ${checked.reason}`);
      const r = await resolveImageId(ctx.meta, repo, checked);
      if (!r.ok) throw imageNotFound(id, repo);
      if (!digests.includes(r.digest)) digests.push(r.digest);
    }
    const tags = await ctx.meta.tags.forDigests(repo.id, digests);
    const scans = await ctx.meta.scans.summaries(repo.id, digests);
    const details: ImageDetail[] = [];
    for (const digest of digests) {
      const m = await ctx.meta.manifests.getMeta(repo.id, digest);
      // Deleted since it was resolved: as if it had never been there.
      if (m === undefined) throw imageNotFound({ imageDigest: digest }, repo);
      details.push(await imageDetail(repo, m, tags.get(digest) ?? [], sizer, scans.get(digest)));
    }
    return { imageDetails: details };
  }

  const limit = input.maxResults ?? 100;
  const after = decodeToken(input.nextToken);
  const status = input.filter?.tagStatus ?? 'ANY';
  const rows = await ctx.meta.manifests.list(repo.id, {
    after,
    limit: limit + 1,
    tagged: status === 'TAGGED' ? true : status === 'UNTAGGED' ? false : undefined,
    status: statusFilter(input.filter?.imageStatus),
  });
  const page = rows.slice(0, limit);
  const tags = await ctx.meta.tags.forDigests(repo.id, page.map((m) => m.digest));
  const details: ImageDetail[] = [];
  const scans = await ctx.meta.scans.summaries(
    repo.id,
    page.map((m) => m.digest),
  );
  for (const m of page) details.push(await imageDetail(repo, m, tags.get(m.digest) ?? [], sizer, scans.get(m.digest)));
  const last = page[page.length - 1];
  return {
    imageDetails: details,
    ...(rows.length > limit && last !== undefined ? { nextToken: encodeToken(last.digest) } : {}),
  };
});
