import { defineOperation } from '../operation.ts';
import { replicationConfiguration } from './replication.ts';

// The registry's settings: its id and its replication configuration (PutReplicationConfiguration).
export default defineOperation('DescribeRegistry', async (ctx) => {
  await ctx.authorize('ecr:DescribeRegistry');
  return { registryId: ctx.accountId, replicationConfiguration: await replicationConfiguration(ctx) };
});
