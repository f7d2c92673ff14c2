import { DEFAULT_REPOSITORY_SETTINGS, type RepositorySettings } from '../../meta/index.ts';
import { ensureRepository } from '../../registry/repositories.ts';
import { EcrException } from '../errors.ts';
import { defineOperation } from '../operation.ts';
import { checkTags, describeRepository } from '../shapes.ts';
import { mutabilitySettings } from '../mutability.ts';

export default defineOperation('CreateRepository', async (ctx, input) => {
  await ctx.authorize('ecr:CreateRepository', input.repositoryName);
  checkTags(input.tags ?? []);
  const settings: RepositorySettings = {
    ...DEFAULT_REPOSITORY_SETTINGS,
    ...mutabilitySettings(input.imageTagMutability ?? 'MUTABLE', input.imageTagMutabilityExclusionFilters),
    scanOnPush: input.imageScanningConfiguration?.scanOnPush ?? false,
    encryptionType: input.encryptionConfiguration?.encryptionType ?? 'AES256',
    kmsKey: input.encryptionConfiguration?.kmsKey ?? null,
  };
  if (settings.encryptionType === 'AES256' && settings.kmsKey !== null) {
    throw new EcrException('InvalidParameterException', 'Invalid parameter: kmsKey can only be given with encryptionType KMS or KMS_DSSE');
  }
  const now = ctx.now();
  const repo = await ctx.meta.transaction(async (tx) => {
    const { repository, created } = await ensureRepository(tx, ctx.accountId, input.repositoryName, now, settings);
    if (!created) {
      throw new EcrException('RepositoryAlreadyExistsException', `The repository with name '${input.repositoryName}' already exists in the registry with id '${ctx.accountId}'`);
    }
    await tx.repositories.putTags(repository.id, (input.tags ?? []).map((t) => ({ key: t.Key, value: t.Value })));
    return repository;
  });
  ctx.log.info({ repository: repo.name, account: repo.accountId }, 'repository created');
  return { repository: describeRepository(ctx, repo) };
});
