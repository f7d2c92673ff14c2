import { tryParseDigest } from '../../core/digest.ts';
import { EcrException } from '../errors.ts';
import type { ImageReferrer } from '../generated/model.ts';
import { defineOperation } from '../operation.ts';
import { decodeToken, encodeToken, findRepository } from '../shapes.ts';
import { statusFilter } from './image-support.ts';

// ListImageReferrers: the manifests of the repository whose subject is the given image (signatures,
// SBOMs, attestations), as the OCI referrers API lists them on /v2/, optionally only some artifact
// types; in digest order, pages of maxResults (default and at most 50). A subject that is not in the
// repository has no referrers (an empty list, as on /v2/). Only ACTIVE referrers unless the filter's
// artifactStatus asks for others.
export default defineOperation('ListImageReferrers', async (ctx, input) => {
  await ctx.authorize('ecr:ListImageReferrers', input.repositoryName);
  const repo = await findRepository(ctx, input.repositoryName);
  const subject = input.subjectId.imageDigest;
  if (tryParseDigest(subject) === null) {
    throw new EcrException('InvalidParameterException', `Invalid parameter at 'subjectId.imageDigest' failed to satisfy constraint: 'must be a digest (sha256:<64 hex digits>)', not '${subject.slice(0, 100)}'`);
  }
  const limit = input.maxResults ?? 50;
  const after = decodeToken(input.nextToken);
  const status = statusFilter(input.filter?.artifactStatus);
  const types = input.filter?.artifactTypes;
  const wanted = types === undefined || types.length === 0 ? undefined : new Set(types);
  const rows = (await ctx.meta.manifests.referrers(repo.id, subject))
    .filter((m) => status === undefined || m.status === status)
    .filter((m) => wanted === undefined || (m.artifactType !== null && wanted.has(m.artifactType)))
    .filter((m) => after === undefined || m.digest > after)
    .sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    referrers: page.map((m): ImageReferrer => {
      const r: ImageReferrer = { digest: m.digest, mediaType: m.mediaType, size: m.size, artifactStatus: m.status };
      if (m.artifactType !== null) r.artifactType = m.artifactType;
      if (m.annotations !== null) r.annotations = m.annotations;
      return r;
    }),
    ...(rows.length > limit && last !== undefined ? { nextToken: encodeToken(last.digest) } : {}),
  };
});
