// Shared pieces of ECR responses and requests: repository descriptions, pagination tokens, tags.
import { repositoryArn } from '../auth/index.ts';
import { RegistryError } from '../core/errors.ts';
import type { Repository } from '../meta/index.ts';
import { registryHost, type EcrContext, type EcrDeps } from './context.ts';
import { EcrException } from './errors.ts';
import type { Repository as RepositoryShape, Tag } from './generated/model.ts';

/** Epoch seconds, as the AWS JSON protocol sends timestamps. */
export function epochSeconds(ms: number): number {
  return ms / 1000;
}

export function repositoryUri(deps: Pick<EcrDeps, 'publicUrl'>, name: string): string {
  return `${registryHost(deps.publicUrl)}/${name}`;
}

export function describeRepository(ctx: Pick<EcrDeps, 'publicUrl' | 'region'>, repo: Repository): RepositoryShape {
  const s = repo.settings;
  const out: RepositoryShape = {
    repositoryArn: repositoryArn(ctx.region, repo.accountId, repo.name),
    registryId: repo.accountId,
    repositoryName: repo.name,
    repositoryUri: repositoryUri(ctx, repo.name),
    createdAt: epochSeconds(repo.createdAt),
    imageTagMutability: s.imageTagMutability,
    imageScanningConfiguration: { scanOnPush: s.scanOnPush },
    encryptionConfiguration: { encryptionType: s.encryptionType as 'AES256' | 'KMS' | 'KMS_DSSE', ...(s.kmsKey !== null ? { kmsKey: s.kmsKey } : {}) },
  };
  if (s.tagMutabilityExclusions.length > 0) out.imageTagMutabilityExclusionFilters = s.tagMutabilityExclusions as RepositoryShape['imageTagMutabilityExclusionFilters'];
  return out;
}

/** The repository, or RepositoryNotFoundException in ECR's words. */
export async function findRepository(ctx: EcrContext, name: string): Promise<Repository> {
  const repo = await ctx.meta.repositories.get(ctx.accountId, name);
  if (repo === undefined) throw repositoryNotFound(ctx.accountId, name);
  return repo;
}

export function repositoryNotFound(accountId: string, name: string): RegistryError {
  return new RegistryError('NameUnknown', `The repository with name '${name}' does not exist in the registry with id '${accountId}'`);
}

/** Opaque pagination tokens: the key after which the next page starts. */
export function encodeToken(after: string): string {
  return Buffer.from(JSON.stringify({ v: 1, after })).toString('base64url');
}

export function decodeToken(token: string | undefined): string | undefined {
  if (token === undefined) return undefined;
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { v?: unknown; after?: unknown };
    if (v.v === 1 && typeof v.after === 'string') return v.after;
  } catch {
    // fall through
  }
  throw new EcrException('InvalidParameterException', 'Invalid parameter at \'nextToken\' failed to satisfy constraint: \'must be a token from a previous response\'');
}

/** ECR's tag rules: at most 50 per resource, keys 1-128 characters not starting with `aws:`, values 0-256. */
export function checkTags(tags: ReadonlyArray<Tag>, existing = 0): void {
  const keys = new Set<string>();
  for (const t of tags) {
    if (t.Key.length < 1 || t.Key.length > 128) throw new EcrException('InvalidTagParameterException', `Tag key '${t.Key.slice(0, 130)}' must be 1 to 128 characters long`);
    if (t.Key.toLowerCase().startsWith('aws:')) throw new EcrException('InvalidTagParameterException', `Tag keys starting with 'aws:' are reserved: '${t.Key}'`);
    if (t.Value.length > 256) throw new EcrException('InvalidTagParameterException', `Tag value for key '${t.Key}' must be at most 256 characters long`);
    if (!/^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u.test(t.Key) || !/^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u.test(t.Value)) {
      throw new EcrException('InvalidTagParameterException', `Tag '${t.Key}' has characters outside letters, digits, spaces and _ . : / = + - @`);
    }
    keys.add(t.Key);
  }
  if (keys.size + existing > 50) throw new EcrException('TooManyTagsException', `A resource can have at most 50 tags; this request would give it ${keys.size + existing}`);
}
