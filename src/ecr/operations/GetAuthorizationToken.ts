import { defineOperation } from '../operation.ts';
import { issueLoginToken } from '../../auth/login-token.ts';

// A login token for /v2/: `base64("AWS:<token>")`, valid auth.tokenTtl (12 hours, as ECR), usable
// as Basic credentials with the user name AWS (`aws ecr get-login-password | podman login -u AWS`).
export default defineOperation('GetAuthorizationToken', async (ctx, input) => {
  await ctx.authorize('ecr:GetAuthorizationToken');
  const now = ctx.now();
  // A role session's token lasts no longer than the session's credentials.
  const expiresAt = Math.min(now + ctx.tokenTtlSeconds * 1000, ctx.principal.session?.expiresAt ?? Number.POSITIVE_INFINITY);
  // One token per registry asked for: a token for another account's registry addresses that
  // registry on /v2/ (where ECR uses <account>.dkr.ecr.<region>.amazonaws.com); what it may do
  // there is what that account's policies grant.
  const ids = input.registryIds ?? [ctx.principal.accountId];
  return {
    authorizationData: ids.map((id) => ({
      authorizationToken: Buffer.from(`AWS:${issueLoginToken(ctx.keyring, ctx.principal, expiresAt, now, id)}`).toString('base64'),
      expiresAt: expiresAt / 1000,
      proxyEndpoint: ctx.publicUrl,
    })),
  };
});
