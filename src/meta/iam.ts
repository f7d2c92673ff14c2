// IAM identities of each account: users, groups and roles, customer managed policies, attachments
// of managed policies (AWS's or the account's, by ARN), inline policies and group membership. The
// rules IAM enforces between them (a user with keys cannot be deleted, ...) belong to the IAM API;
// this store keeps rows and answers the one question the authorizer asks: which documents apply.
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.ts';

export type IamPrincipalKind = 'user' | 'group' | 'role';

export interface IamPrincipal {
  accountId: string;
  kind: IamPrincipalKind;
  name: string;
  /** AIDA... (user), AGPA... (group), AROA... (role). */
  id: string;
  path: string;
  /** A role's trust policy. */
  trustPolicy?: string;
  maxSessionSeconds?: number;
  tags: Array<{ Key: string; Value: string }>;
  createdAt: number;
}

export interface IamPolicy {
  accountId: string;
  name: string;
  id: string;
  path: string;
  description?: string;
  document: string;
  createdAt: number;
  updatedAt: number;
}

/** A policy document that applies to a principal: inline (its text) or managed (its ARN; the text when the account owns it). */
export interface AppliedPolicy {
  source: string;
  arn?: string;
  document?: string;
}

type Row = Database['iam_principals'];

function principal(r: Row): IamPrincipal {
  return {
    accountId: r.account_id,
    kind: r.kind as IamPrincipalKind,
    name: r.name,
    id: r.id,
    path: r.path,
    ...(r.document !== null ? { trustPolicy: r.document } : {}),
    ...(r.max_session_seconds !== null ? { maxSessionSeconds: Number(r.max_session_seconds) } : {}),
    tags: JSON.parse(r.tags) as Array<{ Key: string; Value: string }>,
    createdAt: Number(r.created_at),
  };
}

function policy(r: Database['iam_policies']): IamPolicy {
  return { accountId: r.account_id, name: r.name, id: r.id, path: r.path, ...(r.description !== null ? { description: r.description } : {}), document: r.document, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at) };
}

/** `arn:aws:iam::<account>:policy<path><name>` */
export function customerPolicyArn(accountId: string, path: string, name: string): string {
  return `arn:aws:iam::${accountId}:policy${path}${name}`;
}

export class IamStore {
  private readonly db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  /** Creates the principal; false when one of that kind and name exists (the name is case-insensitive in IAM, so is the check). */
  async create(p: IamPrincipal): Promise<boolean> {
    const clash = await this.db.selectFrom('iam_principals').select('name').where('account_id', '=', p.accountId).where('kind', '=', p.kind).execute();
    if (clash.some((r) => r.name.toLowerCase() === p.name.toLowerCase())) return false;
    await this.db
      .insertInto('iam_principals')
      .values({ account_id: p.accountId, kind: p.kind, name: p.name, id: p.id, path: p.path, document: p.trustPolicy ?? null, max_session_seconds: p.maxSessionSeconds ?? null, tags: JSON.stringify(p.tags), created_at: p.createdAt })
      .execute();
    return true;
  }

  async get(accountId: string, kind: IamPrincipalKind, name: string): Promise<IamPrincipal | undefined> {
    const r = await this.db.selectFrom('iam_principals').selectAll().where('account_id', '=', accountId).where('kind', '=', kind).where('name', '=', name).executeTakeFirst();
    return r === undefined ? undefined : principal(r);
  }

  /** In name order, `limit` after `after`, with a path prefix. */
  async list(accountId: string, kind: IamPrincipalKind, opts: { after?: string; limit: number; pathPrefix?: string }): Promise<IamPrincipal[]> {
    let q = this.db.selectFrom('iam_principals').selectAll().where('account_id', '=', accountId).where('kind', '=', kind);
    if (opts.after !== undefined) q = q.where('name', '>', opts.after);
    if (opts.pathPrefix !== undefined && opts.pathPrefix !== '/') q = q.where(sql<boolean>`substr(path, 1, ${opts.pathPrefix.length}) = ${opts.pathPrefix}`);
    return (await q.orderBy('name').limit(opts.limit).execute()).map(principal);
  }

  /** Removes the principal with its inline policies, attachments and memberships. */
  async delete(accountId: string, kind: IamPrincipalKind, name: string): Promise<boolean> {
    const r = await this.db.deleteFrom('iam_principals').where('account_id', '=', accountId).where('kind', '=', kind).where('name', '=', name).executeTakeFirst();
    await this.db.deleteFrom('iam_inline_policies').where('account_id', '=', accountId).where('kind', '=', kind).where('name', '=', name).execute();
    await this.db.deleteFrom('iam_attachments').where('account_id', '=', accountId).where('kind', '=', kind).where('name', '=', name).execute();
    const member = kind === 'user' ? 'user_name' : kind === 'group' ? 'group_name' : undefined;
    if (member !== undefined) await this.db.deleteFrom('iam_group_members').where('account_id', '=', accountId).where(member, '=', name).execute();
    return Number(r.numDeletedRows) > 0;
  }

  async addToGroup(accountId: string, group: string, user: string): Promise<void> {
    await this.db.insertInto('iam_group_members').values({ account_id: accountId, group_name: group, user_name: user }).onConflict((oc) => oc.doNothing()).execute();
  }

  async removeFromGroup(accountId: string, group: string, user: string): Promise<boolean> {
    const r = await this.db.deleteFrom('iam_group_members').where('account_id', '=', accountId).where('group_name', '=', group).where('user_name', '=', user).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async groupsOf(accountId: string, user: string): Promise<string[]> {
    return (await this.db.selectFrom('iam_group_members').select('group_name').where('account_id', '=', accountId).where('user_name', '=', user).orderBy('group_name').execute()).map((r) => r.group_name);
  }

  async membersOf(accountId: string, group: string): Promise<string[]> {
    return (await this.db.selectFrom('iam_group_members').select('user_name').where('account_id', '=', accountId).where('group_name', '=', group).orderBy('user_name').execute()).map((r) => r.user_name);
  }

  /** Creates a customer managed policy; false when the name is taken. */
  async createPolicy(p: IamPolicy): Promise<boolean> {
    if ((await this.getPolicy(p.accountId, p.name)) !== undefined) return false;
    await this.db
      .insertInto('iam_policies')
      .values({ account_id: p.accountId, name: p.name, id: p.id, path: p.path, description: p.description ?? null, document: p.document, created_at: p.createdAt, updated_at: p.updatedAt })
      .execute();
    return true;
  }

  async getPolicy(accountId: string, name: string): Promise<IamPolicy | undefined> {
    const r = await this.db.selectFrom('iam_policies').selectAll().where('account_id', '=', accountId).where('name', '=', name).executeTakeFirst();
    return r === undefined ? undefined : policy(r);
  }

  async listPolicies(accountId: string, opts: { after?: string; limit: number }): Promise<IamPolicy[]> {
    let q = this.db.selectFrom('iam_policies').selectAll().where('account_id', '=', accountId);
    if (opts.after !== undefined) q = q.where('name', '>', opts.after);
    return (await q.orderBy('name').limit(opts.limit).execute()).map(policy);
  }

  async deletePolicy(accountId: string, name: string): Promise<boolean> {
    const r = await this.db.deleteFrom('iam_policies').where('account_id', '=', accountId).where('name', '=', name).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async attach(accountId: string, kind: IamPrincipalKind, name: string, policyArn: string): Promise<void> {
    await this.db.insertInto('iam_attachments').values({ account_id: accountId, kind, name, policy_arn: policyArn }).onConflict((oc) => oc.doNothing()).execute();
  }

  async detach(accountId: string, kind: IamPrincipalKind, name: string, policyArn: string): Promise<boolean> {
    const r = await this.db.deleteFrom('iam_attachments').where('account_id', '=', accountId).where('kind', '=', kind).where('name', '=', name).where('policy_arn', '=', policyArn).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async attached(accountId: string, kind: IamPrincipalKind, name: string): Promise<string[]> {
    return (await this.db.selectFrom('iam_attachments').select('policy_arn').where('account_id', '=', accountId).where('kind', '=', kind).where('name', '=', name).orderBy('policy_arn').execute()).map((r) => r.policy_arn);
  }

  /** How many principals of the account have the policy attached (IAM refuses to delete an attached policy). */
  async attachmentCount(accountId: string, policyArn: string): Promise<number> {
    const r = await this.db.selectFrom('iam_attachments').select((eb) => eb.fn.countAll<number>().as('n')).where('account_id', '=', accountId).where('policy_arn', '=', policyArn).executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  /** Sets (or, with null, removes) an inline policy; removal answers whether there was one. */
  async putInline(accountId: string, kind: IamPrincipalKind, name: string, policyName: string, document: string | null): Promise<boolean> {
    if (document === null) {
      const r = await this.db.deleteFrom('iam_inline_policies').where('account_id', '=', accountId).where('kind', '=', kind).where('name', '=', name).where('policy_name', '=', policyName).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    }
    await this.db
      .insertInto('iam_inline_policies')
      .values({ account_id: accountId, kind, name, policy_name: policyName, document })
      .onConflict((oc) => oc.columns(['account_id', 'kind', 'name', 'policy_name']).doUpdateSet({ document }))
      .execute();
    return true;
  }

  async inline(accountId: string, kind: IamPrincipalKind, name: string): Promise<Array<{ policyName: string; document: string }>> {
    const rows = await this.db.selectFrom('iam_inline_policies').select(['policy_name', 'document']).where('account_id', '=', accountId).where('kind', '=', kind).where('name', '=', name).orderBy('policy_name').execute();
    return rows.map((r) => ({ policyName: r.policy_name, document: r.document }));
  }

  /**
   * Every policy that applies to a user (its own and its groups', inline and attached) or a role:
   * the documents the authorizer evaluates. Managed policies of the account come with their text;
   * AWS managed ones by ARN only (the caller knows their documents).
   */
  async applied(accountId: string, kind: 'user' | 'role', name: string): Promise<AppliedPolicy[]> {
    const holders: Array<{ kind: IamPrincipalKind; name: string }> = [{ kind, name }];
    if (kind === 'user') for (const g of await this.groupsOf(accountId, name)) holders.push({ kind: 'group', name: g });
    const out: AppliedPolicy[] = [];
    for (const h of holders) {
      for (const p of await this.inline(accountId, h.kind, h.name)) out.push({ source: `${h.kind} ${h.name} inline policy ${p.policyName}`, document: p.document });
      for (const arn of await this.attached(accountId, h.kind, h.name)) {
        const own = new RegExp(`^arn:aws:iam::${accountId}:policy/(?:.*/)?([^/]+)$`).exec(arn);
        const doc = own?.[1] !== undefined ? (await this.getPolicy(accountId, own[1]))?.document : undefined;
        out.push({ source: arn, arn, ...(doc !== undefined ? { document: doc } : {}) });
      }
    }
    return out;
  }
}
