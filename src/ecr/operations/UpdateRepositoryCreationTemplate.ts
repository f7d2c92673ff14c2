import { creationTemplate } from '../../registry/repositories.ts';
import { defineOperation } from '../operation.ts';
import { applyTemplateFields, describeTemplate, templateNotFound } from '../templates.ts';

// Changes the fields given; the others keep their values (an empty string removes a text field).
// Repositories created from the template before keep their settings.
export default defineOperation('UpdateRepositoryCreationTemplate', async (ctx, input) => {
  await ctx.authorize('ecr:UpdateRepositoryCreationTemplate');
  const row = await ctx.meta.transaction(async (tx) => {
    const current = await tx.creationTemplates.get(ctx.accountId, input.prefix);
    if (current === undefined) throw templateNotFound(ctx.accountId, input.prefix);
    const template = applyTemplateFields(ctx.accountId, creationTemplate(current), input);
    const updated = { ...current, template: { ...template }, updatedAt: ctx.now() };
    if (!(await tx.creationTemplates.update(updated))) throw templateNotFound(ctx.accountId, input.prefix);
    return updated;
  });
  ctx.log.info({ account: ctx.accountId, prefix: input.prefix }, 'repository creation template updated');
  return { registryId: ctx.accountId, repositoryCreationTemplate: describeTemplate(row) };
});
