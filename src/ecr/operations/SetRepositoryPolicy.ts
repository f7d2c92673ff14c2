import { repositoryArn } from '../../auth/index.ts';
import { EcrException } from '../errors.ts';
import { defineOperation } from '../operation.ts';
import { findRepository } from '../shapes.ts';
import { deniesCaller, validateEcrResourcePolicy } from './policy-support.ts';

// Sets the repository's policy, replacing any. A document that is not a valid resource policy of
// ECR is refused with the problem named. Without `force`, a policy that would deny the caller
// ecr:SetRepositoryPolicy (locking them out of changing it again) is refused, as ECR does.
export default defineOperation('SetRepositoryPolicy', async (ctx, input) => {
  await ctx.authorize('ecr:SetRepositoryPolicy', input.repositoryName);
  const repo = await findRepository(ctx, input.repositoryName);
  const policy = validateEcrResourcePolicy('repository', input.policyText);
  if (input.force !== true && deniesCaller(ctx, policy, 'ecr:SetRepositoryPolicy', repositoryArn(ctx.region, repo.accountId, repo.name))) {
    throw new EcrException(
      'InvalidParameterException',
      `Invalid parameter at 'PolicyText' failed to satisfy constraint: 'The policy denies ${ctx.principal.arn} ecr:SetRepositoryPolicy on the repository, which would prevent setting its policy again; set force to apply it anyway'`,
    );
  }
  await ctx.meta.repositories.putPolicyText(repo.id, 'repository', input.policyText, ctx.now());
  ctx.log.info({ repository: repo.name, account: repo.accountId, force: input.force === true }, 'repository policy set');
  return { registryId: repo.accountId, repositoryName: repo.name, policyText: input.policyText };
});
