import { defineOperation } from '../operation.ts';
import { registryPolicyNotFound } from './policy-support.ts';

// The registry's policy exactly as it was set.
export default defineOperation('GetRegistryPolicy', async (ctx) => {
  await ctx.authorize('ecr:GetRegistryPolicy');
  const policyText = await ctx.meta.accountPolicies.get(ctx.accountId, 'registry');
  if (policyText === undefined) throw registryPolicyNotFound(ctx.accountId);
  return { registryId: ctx.accountId, policyText };
});
