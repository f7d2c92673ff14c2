// Repositories: lookup, creation on push, listing (the /v2/_catalog).
import { RegistryError } from '../core/errors.ts';
import { validateRepositoryName } from '../core/names.ts';
import type { Repository } from '../meta/index.ts';
import type { RegistryContext } from './context.ts';

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
    return await this.ctx.meta.transaction(async (tx) => {
      const now = this.ctx.now();
      const { repository, created } = await tx.repositories.ensure(accountId, name, now);
      if (created) {
        await tx.events.append({ accountId, type: 'repository.create', repository: name, detail: { 'repository-name': name }, createdAt: now });
        this.ctx.log.info({ repository: name, account: accountId }, 'repository created');
      }
      return repository;
    });
  }

  /** Repository names in byte order after `last`, at most `n`. */
  async list(accountId: string, n: number, last?: string): Promise<string[]> {
    const rows = await this.ctx.meta.repositories.list(accountId, { after: last, limit: n });
    return rows.map((r) => r.name);
  }
}
