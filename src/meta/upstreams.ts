// Secrets (upstream registry credentials, sealed by the caller with the master key) and
// pull-through cache rules, per account. Rows only: the rules ECR enforces between them (a rule's
// credential must exist, 50 rules per registry) belong to the ECR operations.
import type { Kysely } from 'kysely';
import type { Database, PullThroughCacheRulesTable } from './schema.ts';

type Db = Kysely<Database>;

export interface SecretRow {
  accountId: string;
  name: string;
  arn: string;
  valueEnc: string;
  createdAt: number;
  updatedAt: number;
}

export class SecretStore {
  private readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  /** Creates the secret or replaces its value (keeping its ARN); returns the stored row. */
  async put(accountId: string, name: string, arnIfNew: string, valueEnc: string, now: number): Promise<SecretRow> {
    await this.db
      .insertInto('secrets')
      .values({ account_id: accountId, name, arn: arnIfNew, value_enc: valueEnc, created_at: now, updated_at: now })
      .onConflict((oc) => oc.columns(['account_id', 'name']).doUpdateSet({ value_enc: valueEnc, updated_at: now }))
      .execute();
    const r = await this.get(accountId, name);
    if (r === undefined) throw new Error(`secret ${name} vanished`);
    return r;
  }

  async get(accountId: string, name: string): Promise<SecretRow | undefined> {
    const r = await this.db.selectFrom('secrets').selectAll().where('account_id', '=', accountId).where('name', '=', name).executeTakeFirst();
    return r === undefined ? undefined : { accountId: r.account_id, name: r.name, arn: r.arn, valueEnc: r.value_enc, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at) };
  }

  async byArn(arn: string): Promise<SecretRow | undefined> {
    const r = await this.db.selectFrom('secrets').selectAll().where('arn', '=', arn).executeTakeFirst();
    return r === undefined ? undefined : { accountId: r.account_id, name: r.name, arn: r.arn, valueEnc: r.value_enc, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at) };
  }

  async list(accountId: string): Promise<SecretRow[]> {
    const rows = await this.db.selectFrom('secrets').selectAll().where('account_id', '=', accountId).orderBy('name').execute();
    return rows.map((r) => ({ accountId: r.account_id, name: r.name, arn: r.arn, valueEnc: r.value_enc, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at) }));
  }

  async delete(accountId: string, name: string): Promise<boolean> {
    const r = await this.db.deleteFrom('secrets').where('account_id', '=', accountId).where('name', '=', name).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}

export interface PullThroughCacheRuleRow {
  accountId: string;
  prefix: string;
  upstreamUrl: string;
  upstreamRegistry: string;
  upstreamPrefix: string | null;
  credentialArn: string | null;
  customRoleArn: string | null;
  createdAt: number;
  updatedAt: number;
}

function toRule(r: PullThroughCacheRulesTable): PullThroughCacheRuleRow {
  return {
    accountId: r.account_id,
    prefix: r.prefix,
    upstreamUrl: r.upstream_url,
    upstreamRegistry: r.upstream_registry,
    upstreamPrefix: r.upstream_prefix,
    credentialArn: r.credential_arn,
    customRoleArn: r.custom_role_arn,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

export class PullThroughCacheRuleStore {
  private readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  /** Adds the rule; false when the prefix has one. */
  async create(r: PullThroughCacheRuleRow): Promise<boolean> {
    const res = await this.db
      .insertInto('pull_through_cache_rules')
      .values({
        account_id: r.accountId,
        prefix: r.prefix,
        upstream_url: r.upstreamUrl,
        upstream_registry: r.upstreamRegistry,
        upstream_prefix: r.upstreamPrefix,
        credential_arn: r.credentialArn,
        custom_role_arn: r.customRoleArn,
        created_at: r.createdAt,
        updated_at: r.updatedAt,
      })
      .onConflict((oc) => oc.columns(['account_id', 'prefix']).doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  async get(accountId: string, prefix: string): Promise<PullThroughCacheRuleRow | undefined> {
    const r = await this.db.selectFrom('pull_through_cache_rules').selectAll().where('account_id', '=', accountId).where('prefix', '=', prefix).executeTakeFirst();
    return r === undefined ? undefined : toRule(r);
  }

  async list(accountId: string): Promise<PullThroughCacheRuleRow[]> {
    const rows = await this.db.selectFrom('pull_through_cache_rules').selectAll().where('account_id', '=', accountId).orderBy('prefix').execute();
    return rows.map(toRule);
  }

  async update(accountId: string, prefix: string, set: { credentialArn: string | null; customRoleArn: string | null }, now: number): Promise<boolean> {
    const res = await this.db
      .updateTable('pull_through_cache_rules')
      .set({ credential_arn: set.credentialArn, custom_role_arn: set.customRoleArn, updated_at: now })
      .where('account_id', '=', accountId)
      .where('prefix', '=', prefix)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /** When the tag was last compared with upstream, and the digest it had there. */
  async lastCheck(repositoryId: number, tag: string): Promise<{ digest: string; checkedAt: number } | undefined> {
    const r = await this.db.selectFrom('pull_through_cache_checks').select(['digest', 'checked_at']).where('repository_id', '=', repositoryId).where('tag', '=', tag).executeTakeFirst();
    return r === undefined ? undefined : { digest: r.digest, checkedAt: Number(r.checked_at) };
  }

  async recordCheck(repositoryId: number, tag: string, digest: string, now: number): Promise<void> {
    await this.db
      .insertInto('pull_through_cache_checks')
      .values({ repository_id: repositoryId, tag, digest, checked_at: now })
      .onConflict((oc) => oc.columns(['repository_id', 'tag']).doUpdateSet({ digest, checked_at: now }))
      .execute();
  }

  async delete(accountId: string, prefix: string): Promise<boolean> {
    const res = await this.db.deleteFrom('pull_through_cache_rules').where('account_id', '=', accountId).where('prefix', '=', prefix).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }
}
