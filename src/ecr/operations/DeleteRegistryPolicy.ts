import { defineOperation } from '../operation.ts';
import { registryPolicyNotFound } from './policy-support.ts';

// Removes the registry's policy; the answer carries the policy removed.
export default defineOperation('DeleteRegistryPolicy', async (ctx) => {
  await ctx.authorize('ecr:DeleteRegistryPolicy');
  const policyText = await ctx.meta.transaction(async (tx) => {
    const text = await tx.accountPolicies.get(ctx.accountId, 'registry');
    if (text !== undefined) await tx.accountPolicies.put(ctx.accountId, 'registry', null, ctx.now());
    return text;
  });
  if (policyText === undefined) throw registryPolicyNotFound(ctx.accountId);
  ctx.log.info({ account: ctx.accountId }, 'registry policy deleted');
  return { registryId: ctx.accountId, policyText };
});
