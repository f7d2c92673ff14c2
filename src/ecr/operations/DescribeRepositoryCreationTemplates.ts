import { defineOperation } from '../operation.ts';
import { decodeToken, encodeToken } from '../shapes.ts';
import { describeTemplate } from '../templates.ts';

// The registry's templates in byte order of their prefixes, or those of `prefixes` that exist
// (others are left out), up to maxResults (100 by default) per page.
export default defineOperation('DescribeRepositoryCreationTemplates', async (ctx, input) => {
  await ctx.authorize('ecr:DescribeRepositoryCreationTemplates');
  const after = decodeToken(input.nextToken);
  const limit = input.maxResults ?? 100;
  const wanted = input.prefixes === undefined ? undefined : new Set(input.prefixes);
  // At most MAX_TEMPLATES rows: sorted here, so that both databases page in the same (byte) order.
  const rows = (await ctx.meta.creationTemplates.list(ctx.accountId))
    .filter((r) => (wanted === undefined || wanted.has(r.prefix)) && (after === undefined || r.prefix > after))
    .sort((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0));
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    registryId: ctx.accountId,
    repositoryCreationTemplates: page.map(describeTemplate),
    ...(rows.length > limit && last !== undefined ? { nextToken: encodeToken(last.prefix) } : {}),
  };
});
