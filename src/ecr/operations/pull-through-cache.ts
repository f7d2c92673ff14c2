// Pull-through cache rules: Create/Describe/Update/DeletePullThroughCacheRule with ECR's fields and
// exceptions (at most 50 rules per registry; a credential must name a secret of berth's secrets
// store, `berth secret put`). The upstream may be any registry URL; the well-known ones get ECR's
// `upstreamRegistry` name; ValidatePullThroughCacheRule tries the upstream with the credentials.
import type { PullThroughCacheRuleRow } from '../../meta/index.ts';
import { MAX_PULL_THROUGH_CACHE_RULES, upstreamBaseUrl, upstreamRegistryOf } from '../../proxy/rules.ts';
import type { EcrContext } from '../context.ts';
import { EcrException } from '../errors.ts';
import type { OperationName, PullThroughCacheRule, UpstreamRegistry } from '../generated/model.ts';
import { defineOperation, type EcrOperation } from '../operation.ts';
import { decodeToken, encodeToken, epochSeconds } from '../shapes.ts';

function notFound(ctx: EcrContext, prefix: string): EcrException {
  return new EcrException('PullThroughCacheRuleNotFoundException', `The pull through cache rule with prefix '${prefix}' does not exist in the registry with id '${ctx.accountId}'`);
}

async function checkCredential(ctx: EcrContext, arn: string | undefined): Promise<void> {
  if (arn === undefined) return;
  const secret = await ctx.meta.secrets.byArn(arn);
  if (secret?.accountId !== ctx.accountId) throw new EcrException('SecretNotFoundException', `The secret '${arn}' does not exist in the registry with id '${ctx.accountId}' (berth secret put creates one)`);
}

export function ruleShape(r: PullThroughCacheRuleRow): PullThroughCacheRule {
  return {
    ecrRepositoryPrefix: r.prefix,
    upstreamRegistryUrl: r.upstreamUrl,
    createdAt: epochSeconds(r.createdAt),
    updatedAt: epochSeconds(r.updatedAt),
    registryId: r.accountId,
    ...(r.upstreamRegistry !== '' ? { upstreamRegistry: r.upstreamRegistry as UpstreamRegistry } : {}),
    ...(r.credentialArn !== null ? { credentialArn: r.credentialArn } : {}),
    ...(r.customRoleArn !== null ? { customRoleArn: r.customRoleArn } : {}),
    ...(r.upstreamPrefix !== null ? { upstreamRepositoryPrefix: r.upstreamPrefix } : {}),
  };
}

const CreatePullThroughCacheRule = defineOperation('CreatePullThroughCacheRule', async (ctx, input) => {
  await ctx.authorize('ecr:CreatePullThroughCacheRule');
  const base = upstreamBaseUrl(input.upstreamRegistryUrl);
  if (base === undefined) throw new EcrException('InvalidParameterException', `Invalid parameter at 'upstreamRegistryUrl': '${input.upstreamRegistryUrl.slice(0, 200)}' is not a registry host or http(s) URL`);
  const known = upstreamRegistryOf(base.hostname);
  if (input.upstreamRegistry !== undefined && known !== undefined && input.upstreamRegistry !== known) {
    throw new EcrException('InvalidParameterException', `Invalid parameter: upstreamRegistry '${input.upstreamRegistry}' does not match the upstream registry URL '${input.upstreamRegistryUrl}' (${known})`);
  }
  await checkCredential(ctx, input.credentialArn);
  if ((await ctx.meta.pullThroughCacheRules.list(ctx.accountId)).length >= MAX_PULL_THROUGH_CACHE_RULES) {
    throw new EcrException('LimitExceededException', `The registry with id '${ctx.accountId}' already has ${MAX_PULL_THROUGH_CACHE_RULES} pull through cache rules, the most it may have`);
  }
  const now = ctx.now();
  const row: PullThroughCacheRuleRow = {
    accountId: ctx.accountId,
    prefix: input.ecrRepositoryPrefix,
    upstreamUrl: input.upstreamRegistryUrl,
    upstreamRegistry: input.upstreamRegistry ?? known ?? '',
    upstreamPrefix: input.upstreamRepositoryPrefix ?? null,
    credentialArn: input.credentialArn ?? null,
    customRoleArn: input.customRoleArn ?? null,
    createdAt: now,
    updatedAt: now,
  };
  if (!(await ctx.meta.pullThroughCacheRules.create(row))) {
    throw new EcrException('PullThroughCacheRuleAlreadyExistsException', `A pull through cache rule with prefix '${input.ecrRepositoryPrefix}' already exists in the registry with id '${ctx.accountId}'`);
  }
  ctx.proxy.invalidate(ctx.accountId);
  ctx.log.info({ account: ctx.accountId, prefix: row.prefix, upstream: row.upstreamUrl }, 'pull through cache rule created');
  const { updatedAt: _updated, ...shape } = ruleShape(row);
  return shape;
});

const DescribePullThroughCacheRules = defineOperation('DescribePullThroughCacheRules', async (ctx, input) => {
  await ctx.authorize('ecr:DescribePullThroughCacheRules');
  let rules = await ctx.meta.pullThroughCacheRules.list(ctx.accountId);
  if (input.ecrRepositoryPrefixes !== undefined) {
    for (const p of input.ecrRepositoryPrefixes) if (!rules.some((r) => r.prefix === p)) throw notFound(ctx, p);
    rules = rules.filter((r) => input.ecrRepositoryPrefixes?.includes(r.prefix));
  }
  const after = decodeToken(input.nextToken);
  const from = after === undefined ? rules : rules.filter((r) => r.prefix > after);
  const max = input.maxResults ?? 100;
  const page = from.slice(0, max);
  const last = page[page.length - 1];
  return { pullThroughCacheRules: page.map(ruleShape), ...(from.length > max && last !== undefined ? { nextToken: encodeToken(last.prefix) } : {}) };
});

const UpdatePullThroughCacheRule = defineOperation('UpdatePullThroughCacheRule', async (ctx, input) => {
  await ctx.authorize('ecr:UpdatePullThroughCacheRule');
  const rule = await ctx.meta.pullThroughCacheRules.get(ctx.accountId, input.ecrRepositoryPrefix);
  if (rule === undefined) throw notFound(ctx, input.ecrRepositoryPrefix);
  await checkCredential(ctx, input.credentialArn);
  const now = ctx.now();
  const credentialArn = input.credentialArn ?? rule.credentialArn;
  const customRoleArn = input.customRoleArn ?? rule.customRoleArn;
  await ctx.meta.pullThroughCacheRules.update(ctx.accountId, rule.prefix, { credentialArn, customRoleArn }, now);
  ctx.proxy.invalidate(ctx.accountId);
  return {
    ecrRepositoryPrefix: rule.prefix,
    registryId: ctx.accountId,
    updatedAt: epochSeconds(now),
    ...(credentialArn !== null ? { credentialArn } : {}),
    ...(customRoleArn !== null ? { customRoleArn } : {}),
    ...(rule.upstreamPrefix !== null ? { upstreamRepositoryPrefix: rule.upstreamPrefix } : {}),
  };
});

const DeletePullThroughCacheRule = defineOperation('DeletePullThroughCacheRule', async (ctx, input) => {
  await ctx.authorize('ecr:DeletePullThroughCacheRule');
  const rule = await ctx.meta.pullThroughCacheRules.get(ctx.accountId, input.ecrRepositoryPrefix);
  if (rule === undefined || !(await ctx.meta.pullThroughCacheRules.delete(ctx.accountId, rule.prefix))) throw notFound(ctx, input.ecrRepositoryPrefix);
  ctx.proxy.invalidate(ctx.accountId);
  const { updatedAt: _updated, upstreamRegistry: _registry, ...shape } = ruleShape(rule);
  return shape;
});

// Whether berth can reach the rule's upstream with its credentials: GET /v2/ through the
// registry's challenge (the answer says why not, as ECR's `failure`).
const ValidatePullThroughCacheRule = defineOperation('ValidatePullThroughCacheRule', async (ctx, input) => {
  await ctx.authorize('ecr:ValidatePullThroughCacheRule');
  const rule = await ctx.meta.pullThroughCacheRules.get(ctx.accountId, input.ecrRepositoryPrefix);
  if (rule === undefined) throw notFound(ctx, input.ecrRepositoryPrefix);
  let failure: string | undefined;
  try {
    await (await ctx.proxy.client(rule)).ping();
  } catch (e) {
    failure = e instanceof Error ? e.message : String(e);
  }
  return {
    ecrRepositoryPrefix: rule.prefix,
    registryId: ctx.accountId,
    upstreamRegistryUrl: rule.upstreamUrl,
    ...(rule.credentialArn !== null ? { credentialArn: rule.credentialArn } : {}),
    ...(rule.customRoleArn !== null ? { customRoleArn: rule.customRoleArn } : {}),
    ...(rule.upstreamPrefix !== null ? { upstreamRepositoryPrefix: rule.upstreamPrefix } : {}),
    isValid: failure === undefined,
    ...(failure !== undefined ? { failure: failure.slice(0, 1000) } : {}),
  };
});

export const PULL_THROUGH_CACHE_OPERATIONS = [CreatePullThroughCacheRule, DescribePullThroughCacheRules, UpdatePullThroughCacheRule, DeletePullThroughCacheRule, ValidatePullThroughCacheRule] as ReadonlyArray<
  EcrOperation<OperationName>
>;
