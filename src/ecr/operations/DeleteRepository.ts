import { EcrException } from '../errors.ts';
import { defineOperation } from '../operation.ts';
import { describeRepository, findRepository } from '../shapes.ts';

export default defineOperation('DeleteRepository', async (ctx, input) => {
  await ctx.authorize('ecr:DeleteRepository', input.repositoryName);
  const repo = await findRepository(ctx, input.repositoryName);
  const now = ctx.now();
  await ctx.meta.transaction(async (tx) => {
    const images = await tx.manifests.count(repo.id);
    if (images > 0 && input.force !== true) {
      throw new EcrException(
        'RepositoryNotEmptyException',
        `The repository with name '${repo.name}' in registry with id '${repo.accountId}' cannot be deleted because it still contains images`,
      );
    }
    await tx.repositories.delete(repo.id);
    await tx.events.append({ accountId: repo.accountId, type: 'repository.delete', repository: repo.name, detail: { 'repository-name': repo.name, 'image-count': images }, createdAt: now });
  });
  ctx.log.info({ repository: repo.name, account: repo.accountId, force: input.force === true }, 'repository deleted');
  return { repository: describeRepository(ctx, repo) };
});
