import { defineOperation } from '../operation.ts';
import { describeTemplate, templateNotFound } from '../templates.ts';

// Deletes a template; repositories created from it keep their settings.
export default defineOperation('DeleteRepositoryCreationTemplate', async (ctx, input) => {
  await ctx.authorize('ecr:DeleteRepositoryCreationTemplate');
  const row = await ctx.meta.transaction(async (tx) => {
    const current = await tx.creationTemplates.get(ctx.accountId, input.prefix);
    if (current === undefined || !(await tx.creationTemplates.delete(ctx.accountId, input.prefix))) throw templateNotFound(ctx.accountId, input.prefix);
    return current;
  });
  ctx.log.info({ account: ctx.accountId, prefix: input.prefix }, 'repository creation template deleted');
  return { registryId: ctx.accountId, repositoryCreationTemplate: describeTemplate(row) };
});
