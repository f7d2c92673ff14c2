import type { ImageTagMutabilityExclusionFilter } from '../generated/model.ts';
import { mutabilitySettings } from '../mutability.ts';
import { defineOperation } from '../operation.ts';
import { findRepository } from '../shapes.ts';

// The tag mutability of a repository: all four modes, up to 5 WILDCARD exclusion filters for the
// *_WITH_EXCLUSION modes. It governs later pushes; tags already pushed stay where they are.
export default defineOperation('PutImageTagMutability', async (ctx, input) => {
  await ctx.authorize('ecr:PutImageTagMutability', input.repositoryName);
  const m = mutabilitySettings(input.imageTagMutability, input.imageTagMutabilityExclusionFilters);
  const repo = await findRepository(ctx, input.repositoryName);
  await ctx.meta.repositories.setTagMutability(repo.id, m);
  ctx.log.info({ repository: repo.name, account: repo.accountId, imageTagMutability: m.imageTagMutability }, 'tag mutability changed');
  return {
    registryId: repo.accountId,
    repositoryName: repo.name,
    imageTagMutability: m.imageTagMutability,
    ...(m.tagMutabilityExclusions.length > 0 ? { imageTagMutabilityExclusionFilters: m.tagMutabilityExclusions as ImageTagMutabilityExclusionFilter[] } : {}),
  };
});
