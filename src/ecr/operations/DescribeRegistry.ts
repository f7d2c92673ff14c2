import { defineOperation } from '../operation.ts';

// The registry's settings: its id and its replication configuration (no rules until replication is built).
export default defineOperation('DescribeRegistry', async (ctx) => {
  await ctx.authorize('ecr:DescribeRegistry');
  return { registryId: ctx.accountId, replicationConfiguration: { rules: [] } };
});
