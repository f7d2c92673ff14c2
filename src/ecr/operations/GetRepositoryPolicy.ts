import { defineOperation } from '../operation.ts';
import { findRepository } from '../shapes.ts';
import { repositoryPolicyNotFound } from './policy-support.ts';

// The repository's policy exactly as it was set.
export default defineOperation('GetRepositoryPolicy', async (ctx, input) => {
  await ctx.authorize('ecr:GetRepositoryPolicy', input.repositoryName);
  const repo = await findRepository(ctx, input.repositoryName);
  const policyText = await ctx.meta.repositories.policyText(repo.id, 'repository');
  if (policyText === undefined) throw repositoryPolicyNotFound(repo.accountId, repo.name);
  return { registryId: repo.accountId, repositoryName: repo.name, policyText };
});
