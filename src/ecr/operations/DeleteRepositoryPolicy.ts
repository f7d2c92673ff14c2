import { defineOperation } from '../operation.ts';
import { findRepository } from '../shapes.ts';
import { repositoryPolicyNotFound } from './policy-support.ts';

// Removes the repository's policy; the answer carries the policy removed.
export default defineOperation('DeleteRepositoryPolicy', async (ctx, input) => {
  await ctx.authorize('ecr:DeleteRepositoryPolicy', input.repositoryName);
  const repo = await findRepository(ctx, input.repositoryName);
  const policyText = await ctx.meta.transaction(async (tx) => {
    const text = await tx.repositories.policyText(repo.id, 'repository');
    if (text !== undefined) await tx.repositories.putPolicyText(repo.id, 'repository', null, ctx.now());
    return text;
  });
  if (policyText === undefined) throw repositoryPolicyNotFound(repo.accountId, repo.name);
  ctx.log.info({ repository: repo.name, account: repo.accountId }, 'repository policy deleted');
  return { registryId: repo.accountId, repositoryName: repo.name, policyText };
});
