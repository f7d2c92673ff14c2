import { EcrException } from '../errors.ts';
import { defineOperation } from '../operation.ts';
import { decodeToken, describeRepository, encodeToken, findRepository } from '../shapes.ts';

export default defineOperation('DescribeRepositories', async (ctx, input) => {
  if (input.repositoryNames !== undefined) {
    if (input.nextToken !== undefined || input.maxResults !== undefined) {
      throw new EcrException('InvalidParameterException', 'Invalid parameter: nextToken and maxResults cannot be used together with repositoryNames');
    }
    const out = [];
    for (const name of input.repositoryNames) {
      await ctx.authorize('ecr:DescribeRepositories', name);
      out.push(describeRepository(ctx, await findRepository(ctx, name)));
    }
    return { repositories: out };
  }
  await ctx.authorize('ecr:DescribeRepositories');
  const limit = input.maxResults ?? 100;
  const rows = await ctx.meta.repositories.list(ctx.accountId, { after: decodeToken(input.nextToken), limit: limit + 1 });
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    repositories: page.map((r) => describeRepository(ctx, r)),
    ...(rows.length > limit && last !== undefined ? { nextToken: encodeToken(last.name) } : {}),
  };
});
