import { defineOperation } from '../operation.ts';
import { resourceRepository } from './TagResource.ts';

// A repository's tags, by key.
export default defineOperation('ListTagsForResource', async (ctx, input) => {
  const repo = await resourceRepository(ctx, input.resourceArn, 'ecr:ListTagsForResource');
  const tags = await ctx.meta.repositories.tags(repo.id);
  return { tags: tags.map((t) => ({ Key: t.key, Value: t.value })) };
});
