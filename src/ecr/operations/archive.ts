// The archive storage class and pull times: UpdateImageStorageClass (ARCHIVE / STANDARD, see
// src/registry/archive.ts for what moves with an image) and the registry's pull-time exclusions
// (Register/Deregister/ListPullTimeUpdateExclusions): principals whose pulls leave an image's
// lastRecordedPullTime alone, so that scanners and CI do not keep images alive for lifecycle rules.
import type { OperationName } from '../generated/model.ts';
import { EcrException } from '../errors.ts';
import { defineOperation, type EcrOperation } from '../operation.ts';
import { decodeToken, encodeToken, epochSeconds, findRepository } from '../shapes.ts';
import { checkImageId, echoId, imageNotFound, resolveImageId } from './image-support.ts';

/** Pull-time exclusions per registry (the list shape's maximum). */
export const MAX_PULL_TIME_EXCLUSIONS = 100;

const UpdateImageStorageClass = defineOperation('UpdateImageStorageClass', async (ctx, input) => {
  await ctx.authorize('ecr:UpdateImageStorageClass', input.repositoryName);
  const repo = await findRepository(ctx, input.repositoryName);
  const checked = checkImageId(input.imageId);
  if (!checked.ok) throw new EcrException('InvalidParameterException', `Invalid parameter at 'imageId': ${checked.reason}`);
  const r = await resolveImageId(ctx.meta, repo, checked);
  if (!r.ok) {
    if (r.code === 'ImageNotFound') throw imageNotFound(input.imageId, repo);
    throw new EcrException('InvalidParameterException', `Invalid parameter at 'imageId': ${r.reason}`);
  }
  const change = await ctx.registry.archive.update(repo, r.digest, input.targetStorageClass);
  ctx.log.info({ repository: repo.name, account: repo.accountId, digest: r.digest, target: input.targetStorageClass, changed: change.changed.length }, 'image storage class updated');
  return { registryId: repo.accountId, repositoryName: repo.name, imageId: { ...echoId(input.imageId), imageDigest: r.digest }, imageStatus: change.status };
});

const RegisterPullTimeUpdateExclusion = defineOperation('RegisterPullTimeUpdateExclusion', async (ctx, input) => {
  await ctx.authorize('ecr:RegisterPullTimeUpdateExclusion');
  if ((await ctx.meta.pullTimeExclusions.count(ctx.accountId)) >= MAX_PULL_TIME_EXCLUSIONS) {
    throw new EcrException('LimitExceededException', `The registry with id '${ctx.accountId}' already has ${MAX_PULL_TIME_EXCLUSIONS} pull time update exclusions, the most it may have`);
  }
  const now = ctx.now();
  if (!(await ctx.meta.pullTimeExclusions.add(ctx.accountId, input.principalArn, now))) {
    throw new EcrException('ExclusionAlreadyExistsException', `The principal '${input.principalArn}' is already excluded from pull time updates in the registry with id '${ctx.accountId}'`);
  }
  ctx.registry.pullTimes.invalidate(ctx.accountId);
  return { principalArn: input.principalArn, createdAt: epochSeconds(now) };
});

const DeregisterPullTimeUpdateExclusion = defineOperation('DeregisterPullTimeUpdateExclusion', async (ctx, input) => {
  await ctx.authorize('ecr:DeregisterPullTimeUpdateExclusion');
  if (!(await ctx.meta.pullTimeExclusions.remove(ctx.accountId, input.principalArn))) {
    throw new EcrException('ExclusionNotFoundException', `The principal '${input.principalArn}' is not excluded from pull time updates in the registry with id '${ctx.accountId}'`);
  }
  ctx.registry.pullTimes.invalidate(ctx.accountId);
  return { principalArn: input.principalArn };
});

const ListPullTimeUpdateExclusions = defineOperation('ListPullTimeUpdateExclusions', async (ctx, input) => {
  await ctx.authorize('ecr:ListPullTimeUpdateExclusions');
  const limit = input.maxResults ?? 100;
  const rows = await ctx.meta.pullTimeExclusions.list(ctx.accountId, { after: decodeToken(input.nextToken), limit: limit + 1 });
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    pullTimeUpdateExclusions: page.map((e) => e.principalArn),
    ...(rows.length > limit && last !== undefined ? { nextToken: encodeToken(last.principalArn) } : {}),
  };
});

export const ARCHIVE_OPERATIONS = [UpdateImageStorageClass, RegisterPullTimeUpdateExclusion, DeregisterPullTimeUpdateExclusion, ListPullTimeUpdateExclusions] as ReadonlyArray<EcrOperation<OperationName>>;
