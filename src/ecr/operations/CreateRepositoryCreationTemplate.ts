import { EcrException } from '../errors.ts';
import { defineOperation } from '../operation.ts';
import { applyTemplateFields, describeTemplate, MAX_TEMPLATES } from '../templates.ts';

// A repository creation template: the settings of repositories created for CREATE_ON_PUSH (a push to
// a repository that does not exist), REPLICATION or PULL_THROUGH_CACHE under its prefix (or ROOT).
export default defineOperation('CreateRepositoryCreationTemplate', async (ctx, input) => {
  await ctx.authorize('ecr:CreateRepositoryCreationTemplate');
  const template = applyTemplateFields(ctx.accountId, { appliedFor: [] }, input);
  const now = ctx.now();
  const row = { accountId: ctx.accountId, prefix: input.prefix, template: { ...template }, createdAt: now, updatedAt: now };
  const exists = (): EcrException =>
    new EcrException('TemplateAlreadyExistsException', `The repository creation template with prefix '${input.prefix}' already exists in the registry with id '${ctx.accountId}'`);
  await ctx.meta.transaction(async (tx) => {
    if ((await tx.creationTemplates.get(ctx.accountId, input.prefix)) !== undefined) throw exists();
    const count = (await tx.creationTemplates.list(ctx.accountId)).length;
    if (count >= MAX_TEMPLATES) {
      throw new EcrException('LimitExceededException', `The registry with id '${ctx.accountId}' already has ${count} repository creation templates, the most it may have`);
    }
    if (!(await tx.creationTemplates.create(row))) throw exists();
  });
  ctx.log.info({ account: ctx.accountId, prefix: input.prefix, appliedFor: template.appliedFor }, 'repository creation template created');
  return { registryId: ctx.accountId, repositoryCreationTemplate: describeTemplate(row) };
});
