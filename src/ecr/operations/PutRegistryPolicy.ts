import { defineOperation } from '../operation.ts';
import { ACCOUNT_SETTINGS } from '../../core/account-settings.ts';
import { REGISTRY_POLICY_V1_ACTIONS } from '../../auth/index.ts';
import { validateEcrResourcePolicy } from './policy-support.ts';

// Sets the registry's policy. Its scope is the account's REGISTRY_POLICY_SCOPE: with V1 it may only
// grant replication, pull-through-cache imports and repository creation (ECR refuses other actions);
// with V2 (the default) any action of ECR.
export default defineOperation('PutRegistryPolicy', async (ctx, input) => {
  await ctx.authorize('ecr:PutRegistryPolicy');
  const scope = (await ctx.meta.accountSettings.get(ctx.accountId, 'REGISTRY_POLICY_SCOPE')) ?? ACCOUNT_SETTINGS.REGISTRY_POLICY_SCOPE.default;
  validateEcrResourcePolicy('registry', input.policyText, scope === 'V1' ? REGISTRY_POLICY_V1_ACTIONS : undefined);
  await ctx.meta.accountPolicies.put(ctx.accountId, 'registry', input.policyText, ctx.now());
  ctx.log.info({ account: ctx.accountId, scope }, 'registry policy set');
  return { registryId: ctx.accountId, policyText: input.policyText };
});
