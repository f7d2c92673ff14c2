// Registry replication: PutReplicationConfiguration (ECR's rules: at most 10, at most 25 distinct
// destinations, PREFIX_MATCH repository filters, never the source registry itself; berth also
// refuses a region it cannot reach, see replication.destinations), the configuration in
// DescribeRegistry (DescribeRegistry.ts), and DescribeImageReplicationStatus (the image's status at
// each destination its push was replicated to). The copying is src/replication's.
import type { ReplicationRuleRow } from '../../meta/index.ts';
import type { EcrContext } from '../context.ts';
import { EcrException } from '../errors.ts';
import type { ImageIdentifier, ImageReplicationStatus, OperationName, ReplicationConfiguration } from '../generated/model.ts';
import { defineOperation, type EcrOperation } from '../operation.ts';
import { findRepository } from '../shapes.ts';
import { checkImageId, imageNotFound, resolveImageId } from './image-support.ts';

/** The account's configuration in ECR's shape (no rules when replication is not configured). */
export async function replicationConfiguration(ctx: EcrContext): Promise<ReplicationConfiguration> {
  // Stored as given, and given in ECR's shape (filter types are PREFIX_MATCH).
  return { rules: (await ctx.meta.replication.configuration(ctx.accountId)) as ReplicationConfiguration['rules'] };
}

const PutReplicationConfiguration = defineOperation('PutReplicationConfiguration', async (ctx, input) => {
  await ctx.authorize('ecr:PutReplicationConfiguration');
  const rules: ReplicationRuleRow[] = input.replicationConfiguration.rules.map((r) => ({
    destinations: r.destinations.map((d) => ({ region: d.region, registryId: d.registryId })),
    ...(r.repositoryFilters !== undefined ? { repositoryFilters: r.repositoryFilters.map((f) => ({ filter: f.filter, filterType: f.filterType })) } : {}),
  }));
  const problem = ctx.replication.configurationProblem(ctx.accountId, rules);
  if (problem !== undefined) throw new EcrException('InvalidParameterException', `Invalid parameter at 'replicationConfiguration': ${problem}`);
  await ctx.meta.replication.putConfiguration(ctx.accountId, rules, ctx.now());
  ctx.log.info({ account: ctx.accountId, rules: rules.length }, 'replication configuration set');
  return { replicationConfiguration: await replicationConfiguration(ctx) };
});

const DescribeImageReplicationStatus = defineOperation('DescribeImageReplicationStatus', async (ctx, input) => {
  await ctx.authorize('ecr:DescribeImageReplicationStatus', input.repositoryName);
  const repo = await findRepository(ctx, input.repositoryName);
  const checked = checkImageId(input.imageId);
  if (!checked.ok) throw new EcrException('InvalidParameterException', `Invalid parameter at 'imageId': ${checked.reason}`);
  const found = await resolveImageId(ctx.meta, repo, checked);
  if (!found.ok) {
    if (found.code === 'ImageNotFound') throw imageNotFound(input.imageId, repo);
    throw new EcrException('InvalidParameterException', `Invalid parameter at 'imageId': ${found.reason}`);
  }
  const imageId: ImageIdentifier = { imageDigest: found.digest, ...(input.imageId.imageTag !== undefined ? { imageTag: input.imageId.imageTag } : {}) };
  const replicationStatuses: ImageReplicationStatus[] = (await ctx.meta.replication.statuses(repo.id, found.digest)).map((s) => ({
    region: s.region,
    registryId: s.registryId,
    status: s.status,
    ...(s.status === 'FAILED' && s.failureCode !== null ? { failureCode: s.failureCode } : {}),
  }));
  return { repositoryName: repo.name, imageId, replicationStatuses };
});

export const REPLICATION_OPERATIONS = [PutReplicationConfiguration, DescribeImageReplicationStatus] as ReadonlyArray<EcrOperation<OperationName>>;
