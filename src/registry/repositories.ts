// Repositories: lookup, creation on push, listing (the /v2/_catalog).
import { RegistryError } from '../core/errors.ts';
import { validateRepositoryName } from '../core/names.ts';
import type { MetaStore, Repository, RepositorySettings } from '../meta/index.ts';
import type { RegistryContext } from './context.ts';

/**
 * Inside a transaction: the repository, created (with its event) if it does not exist. Callers
 * that create on push do so in the transaction that stores what is pushed, so a refused push
 * leaves no repository behind.
 */
export async function ensureRepository(tx: MetaStore, accountId: string, name: string, now: number, settings?: RepositorySettings): Promise<{ repository: Repository; created: boolean }> {
  const r = await tx.repositories.ensure(accountId, name, now, settings);
  if (r.created) await tx.events.append({ accountId, type: 'repository.create', repository: name, detail: { 'repository-name': name }, createdAt: now });
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

  /** The repository, created now if it does not exist (a push to a new repository creates it). */
  async getOrCreate(accountId: string, name: string): Promise<Repository> {
    validateRepositoryName(name);
    const existing = await this.ctx.meta.repositories.get(accountId, name);
    if (existing !== undefined) return existing;
    const { repository, created } = await this.ctx.meta.transaction(async (tx) => await ensureRepository(tx, accountId, name, this.ctx.now()));
    if (created) this.ctx.log.info({ repository: name, account: accountId }, 'repository created');
    return repository;
  }

  /** Repository names in byte order after `last`, at most `n`. */
  async list(accountId: string, n: number, last?: string): Promise<string[]> {
    const rows = await this.ctx.meta.repositories.list(accountId, { after: last, limit: n });
    return rows.map((r) => r.name);
  }
}
