// Lifecycle policy operations: Put/Get/DeleteLifecyclePolicy and Start/GetLifecyclePolicyPreview.
// Documents are validated by the lifecycle engine (src/lifecycle) with ECR's rules. A preview runs
// as a job (`lifecycle.preview`): StartLifecyclePolicyPreview answers IN_PROGRESS, a second start
// meanwhile LifecyclePolicyPreviewInProgressException, and GetLifecyclePolicyPreview shows
// IN_PROGRESS until the job stored the results (COMPLETE), which stay until the next preview.
import { LifecyclePolicyError, parseLifecyclePolicy, type LifecycleResult } from '../../lifecycle/index.ts';
import type { Repository } from '../../meta/index.ts';
import { EcrException } from '../errors.ts';
import type { ImageIdentifier, LifecyclePolicyPreviewResult, OperationName } from '../generated/model.ts';
import { defineOperation, type EcrOperation } from '../operation.ts';
import { decodeToken, encodeToken, epochSeconds, findRepository } from '../shapes.ts';
import type { EcrContext } from '../context.ts';

function policyNotFound(repo: Repository): EcrException {
  return new EcrException('LifecyclePolicyNotFoundException', `Lifecycle policy does not exist for the repository with name '${repo.name}' in the registry with id '${repo.accountId}'`);
}

/** The document, checked with ECR's rules; InvalidParameterException naming the rule and the problem. */
function validate(text: string): void {
  try {
    parseLifecyclePolicy(text);
  } catch (e) {
    if (e instanceof LifecyclePolicyError) throw new EcrException('InvalidParameterException', e.message);
    throw e;
  }
}

async function lastEvaluated(ctx: EcrContext, repo: Repository): Promise<number | undefined> {
  const t = await ctx.meta.repositories.policyText(repo.id, 'lifecycle-evaluated');
  return t === undefined ? undefined : Number(t);
}

const PutLifecyclePolicy = defineOperation('PutLifecyclePolicy', async (ctx, input) => {
  await ctx.authorize('ecr:PutLifecyclePolicy', input.repositoryName);
  const repo = await findRepository(ctx, input.repositoryName);
  validate(input.lifecyclePolicyText);
  await ctx.meta.repositories.putPolicyText(repo.id, 'lifecycle', input.lifecyclePolicyText, ctx.now());
  return { registryId: repo.accountId, repositoryName: repo.name, lifecyclePolicyText: input.lifecyclePolicyText };
});

const GetLifecyclePolicy = defineOperation('GetLifecyclePolicy', async (ctx, input) => {
  await ctx.authorize('ecr:GetLifecyclePolicy', input.repositoryName);
  const repo = await findRepository(ctx, input.repositoryName);
  const text = await ctx.meta.repositories.policyText(repo.id, 'lifecycle');
  if (text === undefined) throw policyNotFound(repo);
  const at = await lastEvaluated(ctx, repo);
  return { registryId: repo.accountId, repositoryName: repo.name, lifecyclePolicyText: text, ...(at !== undefined ? { lastEvaluatedAt: epochSeconds(at) } : {}) };
});

const DeleteLifecyclePolicy = defineOperation('DeleteLifecyclePolicy', async (ctx, input) => {
  await ctx.authorize('ecr:DeleteLifecyclePolicy', input.repositoryName);
  const repo = await findRepository(ctx, input.repositoryName);
  const text = await ctx.meta.repositories.policyText(repo.id, 'lifecycle');
  if (text === undefined) throw policyNotFound(repo);
  const at = await lastEvaluated(ctx, repo);
  await ctx.meta.repositories.putPolicyText(repo.id, 'lifecycle', null, ctx.now());
  return { registryId: repo.accountId, repositoryName: repo.name, lifecyclePolicyText: text, ...(at !== undefined ? { lastEvaluatedAt: epochSeconds(at) } : {}) };
});

const StartLifecyclePolicyPreview = defineOperation('StartLifecyclePolicyPreview', async (ctx, input) => {
  await ctx.authorize('ecr:StartLifecyclePolicyPreview', input.repositoryName);
  const repo = await findRepository(ctx, input.repositoryName);
  const text = input.lifecyclePolicyText ?? (await ctx.meta.repositories.policyText(repo.id, 'lifecycle'));
  if (text === undefined) throw policyNotFound(repo);
  validate(text);
  const startedAt = await ctx.registry.lifecycle.startPreview(repo, text);
  if (startedAt === undefined) {
    throw new EcrException('LifecyclePolicyPreviewInProgressException', `A lifecycle policy preview is already in progress for the repository with name '${repo.name}' in the registry with id '${repo.accountId}'`);
  }
  await ctx.jobs.enqueue({ kind: 'lifecycle.preview', payload: { accountId: repo.accountId, name: repo.name, startedAt } });
  return { registryId: repo.accountId, repositoryName: repo.name, lifecyclePolicyText: text, status: 'IN_PROGRESS' as const };
});

const GetLifecyclePolicyPreview = defineOperation('GetLifecyclePolicyPreview', async (ctx, input) => {
  await ctx.authorize('ecr:GetLifecyclePolicyPreview', input.repositoryName);
  const repo = await findRepository(ctx, input.repositoryName);
  const preview = await ctx.registry.lifecycle.storedPreview(repo);
  if (preview === undefined) {
    throw new EcrException('LifecyclePolicyPreviewNotFoundException', `There is no lifecycle policy preview for the repository with name '${repo.name}' in the registry with id '${repo.accountId}'`);
  }
  const head = { registryId: repo.accountId, repositoryName: repo.name, lifecyclePolicyText: preview.policyText };
  if (preview.status !== 'COMPLETE') return { ...head, status: preview.status };
  let results = preview.results;
  const status = input.filter?.tagStatus;
  if (status === 'TAGGED') results = results.filter((r) => r.tags.length > 0);
  if (status === 'UNTAGGED') results = results.filter((r) => r.tags.length === 0);
  if (input.imageIds !== undefined && input.imageIds.length > 0) {
    const wanted = (id: ImageIdentifier, r: LifecycleResult): boolean => (id.imageDigest === undefined || id.imageDigest === r.digest) && (id.imageTag === undefined || r.tags.includes(id.imageTag));
    results = results.filter((r) => (input.imageIds ?? []).some((id) => wanted(id, r)));
  }
  const max = input.maxResults ?? 100;
  const after = decodeToken(input.nextToken);
  const sorted = [...results].sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  const from = after === undefined ? sorted : sorted.filter((r) => r.digest > after);
  const pageItems = from.slice(0, max);
  const previewResults: LifecyclePolicyPreviewResult[] = pageItems.map((r) => ({
    imageDigest: r.digest,
    ...(r.tags.length > 0 ? { imageTags: r.tags } : {}),
    imagePushedAt: epochSeconds(r.pushedAt),
    action: r.action === 'expire' ? { type: 'EXPIRE' } : { type: 'TRANSITION', targetStorageClass: 'ARCHIVE' },
    appliedRulePriority: r.appliedRulePriority,
    storageClass: r.storageClass === 'archive' ? 'ARCHIVE' : 'STANDARD',
  }));
  const last = pageItems[pageItems.length - 1];
  const transitioning = results.filter((r) => r.action === 'transition').length;
  return {
    ...head,
    status: 'COMPLETE' as const,
    previewResults,
    summary: {
      expiringImageTotalCount: results.filter((r) => r.action === 'expire').length,
      ...(transitioning > 0 ? { transitioningImageTotalCounts: [{ targetStorageClass: 'ARCHIVE' as const, imageTotalCount: transitioning }] } : {}),
    },
    ...(from.length > max && last !== undefined ? { nextToken: encodeToken(last.digest) } : {}),
  };
});

export const LIFECYCLE_OPERATIONS = [PutLifecyclePolicy, GetLifecyclePolicy, DeleteLifecyclePolicy, StartLifecyclePolicyPreview, GetLifecyclePolicyPreview] as ReadonlyArray<EcrOperation<OperationName>>;
