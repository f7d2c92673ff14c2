// Replication rows: each account's replication configuration (ECR's PutReplicationConfiguration:
// rules of destinations and repository filters, stored as given) and the replication status of each
// pushed image per destination (DescribeImageReplicationStatus). Rows only: the rules ECR enforces on
// a configuration and the copying itself are src/replication's.
import type { Kysely } from 'kysely';
import type { Database, ReplicationStatusesTable } from './schema.ts';

type Db = Kysely<Database>;

export interface ReplicationDestinationRow {
  region: string;
  registryId: string;
}

export interface ReplicationRuleRow {
  destinations: ReplicationDestinationRow[];
  repositoryFilters?: Array<{ filter: string; filterType: string }>;
}

export type ReplicationStatusValue = 'IN_PROGRESS' | 'COMPLETE' | 'FAILED';

export interface ReplicationStatusRow {
  repositoryId: number;
  digest: string;
  region: string;
  registryId: string;
  status: ReplicationStatusValue;
  failureCode: string | null;
  failureReason: string | null;
  updatedAt: number;
}

function toStatus(r: ReplicationStatusesTable): ReplicationStatusRow {
  return {
    repositoryId: Number(r.repository_id),
    digest: r.digest,
    region: r.region,
    registryId: r.registry_id,
    status: r.status as ReplicationStatusValue,
    failureCode: r.failure_code,
    failureReason: r.failure_reason,
    updatedAt: Number(r.updated_at),
  };
}

export class ReplicationStore {
  private readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  /** The account's replication rules (none when replication was never configured or was turned off). */
  async configuration(accountId: string): Promise<ReplicationRuleRow[]> {
    const r = await this.db.selectFrom('replication_configurations').select('rules').where('account_id', '=', accountId).executeTakeFirst();
    return r === undefined ? [] : (JSON.parse(r.rules) as ReplicationRuleRow[]);
  }

  /** Replaces the account's rules; no rules turns replication off. */
  async putConfiguration(accountId: string, rules: readonly ReplicationRuleRow[], now: number): Promise<void> {
    if (rules.length === 0) {
      await this.db.deleteFrom('replication_configurations').where('account_id', '=', accountId).execute();
      return;
    }
    const text = JSON.stringify(rules);
    await this.db
      .insertInto('replication_configurations')
      .values({ account_id: accountId, rules: text, updated_at: now })
      .onConflict((oc) => oc.column('account_id').doUpdateSet({ rules: text, updated_at: now }))
      .execute();
  }

  /** Records the status of an image's replication to one destination (replacing the previous one). */
  async setStatus(s: ReplicationStatusRow): Promise<void> {
    const values = { status: s.status, failure_code: s.failureCode, failure_reason: s.failureReason, updated_at: s.updatedAt };
    await this.db
      .insertInto('replication_statuses')
      .values({ repository_id: s.repositoryId, digest: s.digest, region: s.region, registry_id: s.registryId, ...values })
      .onConflict((oc) => oc.columns(['repository_id', 'digest', 'region', 'registry_id']).doUpdateSet(values))
      .execute();
  }

  /** The image's status at each destination, by region and registry id. */
  async statuses(repositoryId: number, digest: string): Promise<ReplicationStatusRow[]> {
    const rows = await this.db.selectFrom('replication_statuses').selectAll().where('repository_id', '=', repositoryId).where('digest', '=', digest).orderBy('region').orderBy('registry_id').execute();
    return rows.map(toStatus);
  }
}
