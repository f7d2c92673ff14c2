import { repositoryArn } from '../../auth/index.ts';
import { RegistryError } from '../../core/errors.ts';
import { isRepositoryName } from '../../core/names.ts';
import type { Repository } from '../../meta/index.ts';
import type { EcrContext } from '../context.ts';
import { EcrException } from '../errors.ts';
import { defineOperation } from '../operation.ts';
import { checkTags, repositoryNotFound } from '../shapes.ts';

const REPOSITORY_ARN = /^arn:aws:ecr:([a-z0-9-]+):(\d{12}):repository\/(.+)$/;

/**
 * The repository a resource ARN names (`arn:aws:ecr:<region>:<account>:repository/<name>`, the only
 * resource ECR tags), once the caller may perform `action` on it: InvalidParameterException for an
 * ARN that is malformed or of another region, RepositoryNotFoundException for an unknown repository.
 */
export async function resourceRepository(ctx: EcrContext, arn: string, action: string): Promise<Repository> {
  const m = REPOSITORY_ARN.exec(arn);
  const [, region, accountId, name] = m ?? [];
  if (region === undefined || accountId === undefined || name === undefined || !isRepositoryName(name)) {
    throw new EcrException('InvalidParameterException', `The ARN provided is invalid: expected arn:aws:ecr:${ctx.region}:<registry id>:repository/<repository name>, not "${arn.slice(0, 300)}"`);
  }
  if (region !== ctx.region) throw new EcrException('InvalidParameterException', `The ARN provided is invalid: it names region ${region}, and this registry serves ${ctx.region}`);
  const d = await ctx.authorizer.authorize(ctx.principal, action, { arn: repositoryArn(ctx.region, accountId, name), accountId }, ctx.facts);
  if (!d.allowed) throw new RegistryError('Denied', d.reason);
  const repo = await ctx.meta.repositories.get(accountId, name);
  if (repo === undefined) throw repositoryNotFound(accountId, name);
  return repo;
}

// Adds tags to a repository or changes their values; other tags stay. At most 50 per repository.
export default defineOperation('TagResource', async (ctx, input) => {
  const repo = await resourceRepository(ctx, input.resourceArn, 'ecr:TagResource');
  const keys = new Set(input.tags.map((t) => t.Key));
  await ctx.meta.transaction(async (tx) => {
    const others = (await tx.repositories.tags(repo.id)).filter((t) => !keys.has(t.key));
    checkTags(input.tags, others.length);
    const byKey = new Map(input.tags.map((t) => [t.Key, t.Value]));
    await tx.repositories.putTags(repo.id, [...byKey].map(([key, value]) => ({ key, value })));
  });
  return {};
});
