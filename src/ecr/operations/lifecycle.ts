// Lifecycle policy operations: Put/Get/DeleteLifecyclePolicy and Start/GetLifecyclePolicyPreview.
// Documents are validated by the lifecycle engine (src/lifecycle) with ECR's rules; a preview is
// evaluated when it is started (StartLifecyclePolicyPreview answers IN_PROGRESS as ECR does, and
// the next GetLifecyclePolicyPreview finds it COMPLETE) and kept with the repository until the next.
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
  // The archive storage class is not there yet: a rule that would move images to it, or select
  // archived images, could not be applied.
  const rules = (JSON.parse(text) as { rules: Array<{ rulePriority?: unknown; selection?: { storageClass?: unknown }; action?: { type?: unknown } }> }).rules;
  for (const r of rules) {
    if (r.action?.type === 'transition' || r.selection?.storageClass === 'archive') {
      throw new EcrException('InvalidParameterException', `Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: rule ${String(r.rulePriority)}: berth does not have the archive storage class yet, so transition rules and rules on archived images cannot be applied'`);
    }
  }
}

interface StoredPreview {
  v: 1;
  policyText: string;
  evaluatedAt: number;
  results: Array<LifecycleResult & { pushedAt: number }>;
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
  const { results, images } = await ctx.registry.lifecycle.preview(repo, text);
  const pushed = new Map(images.map((i) => [i.digest, i.pushedAt]));
  const stored: StoredPreview = { v: 1, policyText: text, evaluatedAt: ctx.now(), results: results.map((r) => ({ ...r, pushedAt: pushed.get(r.digest) ?? 0 })) };
  await ctx.meta.repositories.putPolicyText(repo.id, 'lifecycle-preview', JSON.stringify(stored), ctx.now());
  return { registryId: repo.accountId, repositoryName: repo.name, lifecyclePolicyText: text, status: 'IN_PROGRESS' as const };
});

const GetLifecyclePolicyPreview = defineOperation('GetLifecyclePolicyPreview', async (ctx, input) => {
  await ctx.authorize('ecr:GetLifecyclePolicyPreview', input.repositoryName);
  const repo = await findRepository(ctx, input.repositoryName);
  const raw = await ctx.meta.repositories.policyText(repo.id, 'lifecycle-preview');
  if (raw === undefined) {
    throw new EcrException('LifecyclePolicyPreviewNotFoundException', `There is no lifecycle policy preview for the repository with name '${repo.name}' in the registry with id '${repo.accountId}'`);
  }
  const preview = JSON.parse(raw) as StoredPreview;
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
  return {
    registryId: repo.accountId,
    repositoryName: repo.name,
    lifecyclePolicyText: preview.policyText,
    status: 'COMPLETE' as const,
    previewResults,
    summary: { expiringImageTotalCount: results.filter((r) => r.action === 'expire').length },
    ...(from.length > max && last !== undefined ? { nextToken: encodeToken(last.digest) } : {}),
  };
});

export const LIFECYCLE_OPERATIONS = [PutLifecyclePolicy, GetLifecyclePolicy, DeleteLifecyclePolicy, StartLifecyclePolicyPreview, GetLifecyclePolicyPreview] as ReadonlyArray<EcrOperation<OperationName>>;
