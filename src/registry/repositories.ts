// Repositories: lookup, creation on push (from repository creation templates), listing (the /v2/_catalog).
import { RegistryError } from '../core/errors.ts';
import { ACCOUNT_SETTINGS } from '../core/account-settings.ts';
import { validateRepositoryName } from '../core/names.ts';
import { DEFAULT_REPOSITORY_SETTINGS, type CreationTemplateRow, type MetaStore, type Repository, type RepositorySettings, type TagMutability } from '../meta/index.ts';
import type { RegistryContext } from './context.ts';

/**
 * A repository creation template as stored (CreationTemplateRow.template): ECR's
 * RepositoryCreationTemplate without its prefix and times. The ECR operations write it.
 */
export interface CreationTemplate {
  description?: string;
  encryptionConfiguration?: { encryptionType: string; kmsKey?: string };
  resourceTags?: Array<{ Key: string; Value: string }>;
  imageTagMutability?: TagMutability;
  imageTagMutabilityExclusionFilters?: Array<{ filterType: string; filter: string }>;
  repositoryPolicy?: string;
  lifecyclePolicy?: string;
  /** CREATE_ON_PUSH, REPLICATION, PULL_THROUGH_CACHE. */
  appliedFor: string[];
  customRoleArn?: string;
}

/** The prefix of the template that applies to every name no other template matches. */
export const ROOT_PREFIX = 'ROOT';

export function creationTemplate(row: CreationTemplateRow): CreationTemplate {
  const t = row.template as Partial<CreationTemplate>;
  return { ...t, appliedFor: Array.isArray(t.appliedFor) ? t.appliedFor : [] };
}

/**
 * The template for a new repository `name` created for `appliedFor`: among the templates applied
 * for it, the one with the longest prefix `p` such that `name` starts with `p/` (ECR assumes a `/`
 * after every prefix: `team-a` matches `team-a/app`, not `team-a` nor `team-ab/app`); else `ROOT`.
 */
export function matchCreationTemplate(rows: readonly CreationTemplateRow[], name: string, appliedFor: string): CreationTemplateRow | undefined {
  let best: CreationTemplateRow | undefined;
  let bestLength = -1;
  for (const row of rows) {
    if (!creationTemplate(row).appliedFor.includes(appliedFor)) continue;
    let length = 0;
    if (row.prefix !== ROOT_PREFIX) {
      const p = `${row.prefix.replace(/\/+$/, '')}/`;
      if (!name.startsWith(p)) continue;
      length = p.length;
    }
    if (length > bestLength) {
      best = row;
      bestLength = length;
    }
  }
  return best;
}

/** The settings a template gives the repositories it creates. */
export function templateSettings(t: CreationTemplate): RepositorySettings {
  const kmsKey = t.encryptionConfiguration?.kmsKey;
  return {
    imageTagMutability: t.imageTagMutability ?? 'MUTABLE',
    tagMutabilityExclusions: t.imageTagMutabilityExclusionFilters ?? [],
    scanOnPush: false,
    encryptionType: t.encryptionConfiguration?.encryptionType ?? 'AES256',
    kmsKey: kmsKey === undefined || kmsKey === '' ? null : kmsKey,
  };
}

/**
 * Inside a transaction: the repository, created (with its event) if it does not exist. With
 * `settings` (CreateRepository) it is created with them. Without (a push), it is created only when a
 * CREATE_ON_PUSH repository creation template matches its name, with the template's settings,
 * resource tags and policy texts; otherwise NAME_UNKNOWN, as ECR answers. Callers that create on push
 * do so in the transaction that stores what is pushed, so a refused push leaves no repository behind.
 */
export async function ensureRepository(
  tx: MetaStore,
  accountId: string,
  name: string,
  now: number,
  settings?: RepositorySettings,
  appliedFor: 'CREATE_ON_PUSH' | 'PULL_THROUGH_CACHE' | 'REPLICATION' = 'CREATE_ON_PUSH',
): Promise<{ repository: Repository; created: boolean }> {
  let template: CreationTemplate | undefined;
  if (settings === undefined) {
    const existing = await tx.repositories.get(accountId, name);
    if (existing !== undefined) return { repository: existing, created: false };
    const row = matchCreationTemplate(await tx.creationTemplates.list(accountId), name, appliedFor);
    // A pull through a cache rule or a replication creates the repository anyway (with ECR's
    // defaults when no template is for it); a push only with a CREATE_ON_PUSH template.
    if (row === undefined && appliedFor !== 'CREATE_ON_PUSH') {
      settings = DEFAULT_REPOSITORY_SETTINGS;
    } else if (row === undefined) {
      throw new RegistryError(
        'NameUnknown',
        `repository ${name} does not exist in registry ${accountId} and no repository creation template for CREATE_ON_PUSH matches its name; create the repository first, or a template for its prefix or ROOT`,
        { name },
      );
    } else {
      template = creationTemplate(row);
    }
  }
  const r = await tx.repositories.ensure(accountId, name, now, settings ?? (template === undefined ? undefined : templateSettings(template)));
  if (!r.created) return r;
  if (template !== undefined) {
    const id = r.repository.id;
    await tx.repositories.putTags(id, (template.resourceTags ?? []).map((t) => ({ key: t.Key, value: t.Value })));
    if (template.repositoryPolicy !== undefined && template.repositoryPolicy !== '') await tx.repositories.putPolicyText(id, 'repository', template.repositoryPolicy, now);
    if (template.lifecyclePolicy !== undefined && template.lifecyclePolicy !== '') await tx.repositories.putPolicyText(id, 'lifecycle', template.lifecyclePolicy, now);
  }
  await tx.events.append({ accountId, type: 'repository.create', repository: name, detail: { 'repository-name': name }, createdAt: now });
  return r;
}

export class RepositoryService {
  private readonly ctx: RegistryContext;

  constructor(ctx: RegistryContext) {
    this.ctx = ctx;
  }

  /** The repository, or undefined. */
  async find(accountId: string, name: string): Promise<Repository | undefined> {
    validateRepositoryName(name);
    return await this.ctx.meta.repositories.get(accountId, name);
  }

  /** The repository, or NAME_UNKNOWN. */
  async get(accountId: string, name: string): Promise<Repository> {
    validateRepositoryName(name);
    const repo = await this.ctx.meta.repositories.get(accountId, name);
    if (repo === undefined) throw new RegistryError('NameUnknown', `repository ${name} does not exist in registry ${accountId}`, { name });
    return repo;
  }

  /** Whether cross-repository mounts are allowed in the account: its BLOB_MOUNTING setting, ENABLED unless set to DISABLED. */
  async blobMountingEnabled(accountId: string): Promise<boolean> {
    return ((await this.ctx.meta.accountSettings.get(accountId, 'BLOB_MOUNTING')) ?? ACCOUNT_SETTINGS.BLOB_MOUNTING.default) === 'ENABLED';
  }

  /**
   * The repository, created now if it does not exist: for a push when a CREATE_ON_PUSH template
   * matches its name, for a pull through a cache rule or a replication always (see ensureRepository).
   */
  async getOrCreate(accountId: string, name: string, appliedFor: 'CREATE_ON_PUSH' | 'PULL_THROUGH_CACHE' | 'REPLICATION' = 'CREATE_ON_PUSH'): Promise<Repository> {
    validateRepositoryName(name);
    const existing = await this.ctx.meta.repositories.get(accountId, name);
    if (existing !== undefined) return existing;
    const { repository, created } = await this.ctx.meta.transaction(async (tx) => await ensureRepository(tx, accountId, name, this.ctx.now(), undefined, appliedFor));
    if (created) this.ctx.log.info({ repository: name, account: accountId }, 'repository created');
    return repository;
  }

  /** Repository names in byte order after `last`, at most `n`. */
  async list(accountId: string, n: number, last?: string): Promise<string[]> {
    const rows = await this.ctx.meta.repositories.list(accountId, { after: last, limit: n });
    return rows.map((r) => r.name);
  }
}
