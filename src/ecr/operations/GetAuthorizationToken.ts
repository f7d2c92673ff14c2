import { defineOperation } from '../operation.ts';
import { issueLoginToken } from '../../auth/login-token.ts';

// A login token for /v2/: `base64("AWS:<token>")`, valid auth.tokenTtl (12 hours, as ECR), usable
// as Basic credentials with the user name AWS (`aws ecr get-login-password | podman login -u AWS`).
export default defineOperation('GetAuthorizationToken', async (ctx, input) => {
  await ctx.authorize('ecr:GetAuthorizationToken');
  const now = ctx.now();
  const expiresAt = now + ctx.tokenTtlSeconds * 1000;
  const token = issueLoginToken(ctx.keyring, ctx.principal, expiresAt, now);
  const authorizationToken = Buffer.from(`AWS:${token}`).toString('base64');
  const ids = input.registryIds ?? [ctx.principal.accountId];
  return {
    authorizationData: ids.map(() => ({ authorizationToken, expiresAt: expiresAt / 1000, proxyEndpoint: ctx.publicUrl })),
  };
});
