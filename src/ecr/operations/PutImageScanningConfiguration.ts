import { defineOperation } from '../operation.ts';
import { findRepository } from '../shapes.ts';

// The repository's scan-on-push flag (stored; scanning itself comes with the scanning issue).
export default defineOperation('PutImageScanningConfiguration', async (ctx, input) => {
  await ctx.authorize('ecr:PutImageScanningConfiguration', input.repositoryName);
  const repo = await findRepository(ctx, input.repositoryName);
  const scanOnPush = input.imageScanningConfiguration.scanOnPush ?? false;
  await ctx.meta.repositories.setScanOnPush(repo.id, scanOnPush);
  return { registryId: repo.accountId, repositoryName: repo.name, imageScanningConfiguration: { scanOnPush } };
});
