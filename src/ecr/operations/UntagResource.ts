import { EcrException } from '../errors.ts';
import { defineOperation } from '../operation.ts';
import { resourceRepository } from './TagResource.ts';

// Removes tags from a repository by key; keys it does not have are ignored.
export default defineOperation('UntagResource', async (ctx, input) => {
  for (const key of input.tagKeys) {
    if (key.length < 1 || key.length > 128) throw new EcrException('InvalidTagParameterException', `Tag key '${key.slice(0, 130)}' must be 1 to 128 characters long`);
    if (key.toLowerCase().startsWith('aws:')) throw new EcrException('InvalidTagParameterException', `Tag keys starting with 'aws:' are reserved: '${key}'`);
  }
  const repo = await resourceRepository(ctx, input.resourceArn, 'ecr:UntagResource');
  await ctx.meta.repositories.deleteTags(repo.id, [...new Set(input.tagKeys)]);
  return {};
});
