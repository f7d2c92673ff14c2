import { EcrException } from '../errors.ts';
import type { ImageIdentifier } from '../generated/model.ts';
import { defineOperation } from '../operation.ts';
import { decodeToken, encodeToken, findRepository } from '../shapes.ts';
import { statusFilter } from './image-support.ts';

// ListImages: one entry per tag ({imageDigest, imageTag}) and one for each image without tags
// ({imageDigest}), as ECR lists them; ordered by digest, then tag (an untagged image has one entry).
// Only ACTIVE images unless the filter's imageStatus asks for others.
// Pages of maxResults (default 100) continue after the (digest, tag) of the last entry.
export default defineOperation('ListImages', async (ctx, input) => {
  await ctx.authorize('ecr:ListImages', input.repositoryName);
  const repo = await findRepository(ctx, input.repositoryName);
  const limit = input.maxResults ?? 100;
  const status = input.filter?.tagStatus ?? 'ANY';
  const after = readToken(input.nextToken);

  // Every manifest listed gives at least one entry, so limit + 2 manifests from the one the token
  // stopped in (whose entries up to the token are skipped) give more than a page when there is more.
  const rows = await ctx.meta.manifests.list(repo.id, {
    from: after?.digest,
    limit: limit + (after === undefined ? 1 : 2),
    tagged: status === 'TAGGED' ? true : status === 'UNTAGGED' ? false : undefined,
    status: statusFilter(input.filter?.imageStatus),
  });
  const tags = status === 'UNTAGGED' ? new Map<string, string[]>() : await ctx.meta.tags.forDigests(repo.id, rows.map((r) => r.digest));
  const entries: Array<{ digest: string; tag: string }> = [];
  for (const r of rows) {
    const t = tags.get(r.digest) ?? [];
    if (t.length === 0) entries.push({ digest: r.digest, tag: '' });
    else for (const tag of t) entries.push({ digest: r.digest, tag });
  }
  const rest = after === undefined ? entries : entries.filter((e) => e.digest > after.digest || (e.digest === after.digest && e.tag > after.tag));
  const page = rest.slice(0, limit);
  const last = page[page.length - 1];
  return {
    imageIds: page.map((e): ImageIdentifier => (e.tag === '' ? { imageDigest: e.digest } : { imageDigest: e.digest, imageTag: e.tag })),
    ...(rest.length > limit && last !== undefined ? { nextToken: encodeToken(JSON.stringify([last.digest, last.tag])) } : {}),
  };
});

function readToken(token: string | undefined): { digest: string; tag: string } | undefined {
  const after = decodeToken(token);
  if (after === undefined) return undefined;
  try {
    const v = JSON.parse(after) as unknown;
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string') return { digest: v[0], tag: v[1] };
  } catch {
    // fall through
  }
  throw new EcrException('InvalidParameterException', "Invalid parameter at 'nextToken' failed to satisfy constraint: 'must be a token from a previous response'");
}
