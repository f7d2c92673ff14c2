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
  description?: string;
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

/** An OpenID Connect identity provider that roles of the account can trust. */
export interface OidcProvider {
  accountId: string;
  /** The issuer without its scheme: `token.example.com/path`. */
  issuer: string;
  /** The issuer URL as created (`https://token.example.com/path`). */
  url: string;
  clientIds: string[];
  thumbprints: string[];
  /** A JWKS document pinned by the administrator; unset: discovered from the issuer. */
  jwks?: string;
  tags: Array<{ Key: string; Value: string }>;
  createdAt: number;
}

/** Temporary credentials of an assumed role. */
export interface StsSession {
  accessKeyId: string;
  accountId: string;
  roleName: string;
  roleId: string;
  rolePath: string;
  sessionName: string;
  /** The secret access key, sealed with the master key. */
  secretEnc: string;
  /** SHA-256 (hex) of the session token. */
  tokenSha256: string;
  sessionPolicy?: string;
  policyArns?: string[];
  /** The ARN of who assumed the role (a user, a role session, or an identity provider). */
  source: string;
  sourceIdentity?: string;
  tags: Array<{ Key: string; Value: string }>;
  expiresAt: number;
  createdAt: number;
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
    ...(r.description !== null ? { description: r.description } : {}),
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
      .values({ account_id: p.accountId, kind: p.kind, name: p.name, id: p.id, path: p.path, document: p.trustPolicy ?? null, max_session_seconds: p.maxSessionSeconds ?? null, description: p.description ?? null, tags: JSON.stringify(p.tags), created_at: p.createdAt })
      .execute();
    return true;
  }

  async get(accountId: string, kind: IamPrincipalKind, name: string): Promise<IamPrincipal | undefined> {
    const r = await this.db.selectFrom('iam_principals').selectAll().where('account_id', '=', accountId).where('kind', '=', kind).where('name', '=', name).executeTakeFirst();
    return r === undefined ? undefined : principal(r);
  }

  /** Replaces a role's trust policy; false when there is no such role. */
  async setTrustPolicy(accountId: string, roleName: string, document: string): Promise<boolean> {
    const r = await this.db.updateTable('iam_principals').set({ document }).where('account_id', '=', accountId).where('kind', '=', 'role').where('name', '=', roleName).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
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

  /** The account's customer managed policy an ARN names, path included (undefined for another account's, or AWS's). */
  async policyByArn(accountId: string, arn: string): Promise<IamPolicy | undefined> {
    const m = /^arn:aws:iam::(\d{12}):policy(\/(?:.*\/)?)([^/]+)$/.exec(arn);
    if (m === null || m[1] !== accountId) return undefined;
    const p = await this.getPolicy(accountId, m[3] as string);
    return p !== undefined && customerPolicyArn(p.accountId, p.path, p.name) === arn ? p : undefined;
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
        const doc = (await this.policyByArn(accountId, arn))?.document;
        out.push({ source: arn, arn, ...(doc !== undefined ? { document: doc } : {}) });
      }
    }
    return out;
  }

  async createOidcProvider(p: OidcProvider): Promise<boolean> {
    if ((await this.getOidcProvider(p.accountId, p.issuer)) !== undefined) return false;
    await this.db
      .insertInto('iam_oidc_providers')
      .values({ account_id: p.accountId, issuer: p.issuer, url: p.url, client_ids: JSON.stringify(p.clientIds), thumbprints: JSON.stringify(p.thumbprints), jwks: p.jwks ?? null, tags: JSON.stringify(p.tags), created_at: p.createdAt })
      .execute();
    return true;
  }

  async getOidcProvider(accountId: string, issuer: string): Promise<OidcProvider | undefined> {
    const r = await this.db.selectFrom('iam_oidc_providers').selectAll().where('account_id', '=', accountId).where('issuer', '=', issuer).executeTakeFirst();
    if (r === undefined) return undefined;
    return {
      accountId: r.account_id,
      issuer: r.issuer,
      url: r.url,
      clientIds: JSON.parse(r.client_ids) as string[],
      thumbprints: JSON.parse(r.thumbprints) as string[],
      ...(r.jwks !== null ? { jwks: r.jwks } : {}),
      tags: JSON.parse(r.tags) as Array<{ Key: string; Value: string }>,
      createdAt: Number(r.created_at),
    };
  }

  async listOidcProviders(accountId: string): Promise<string[]> {
    return (await this.db.selectFrom('iam_oidc_providers').select('issuer').where('account_id', '=', accountId).orderBy('issuer').execute()).map((r) => r.issuer);
  }

  async deleteOidcProvider(accountId: string, issuer: string): Promise<boolean> {
    const r = await this.db.deleteFrom('iam_oidc_providers').where('account_id', '=', accountId).where('issuer', '=', issuer).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async putSession(s: StsSession): Promise<void> {
    await this.db
      .insertInto('sts_sessions')
      .values({
        access_key_id: s.accessKeyId,
        account_id: s.accountId,
        role_name: s.roleName,
        role_id: s.roleId,
        role_path: s.rolePath,
        session_name: s.sessionName,
        secret_enc: s.secretEnc,
        token_sha256: s.tokenSha256,
        session_policy: s.sessionPolicy ?? null,
        policy_arns: s.policyArns === undefined ? null : JSON.stringify(s.policyArns),
        source: s.source,
        source_identity: s.sourceIdentity ?? null,
        tags: JSON.stringify(s.tags),
        expires_at: s.expiresAt,
        created_at: s.createdAt,
      })
      .execute();
  }

  async getSession(accessKeyId: string): Promise<StsSession | undefined> {
    const r = await this.db.selectFrom('sts_sessions').selectAll().where('access_key_id', '=', accessKeyId).executeTakeFirst();
    if (r === undefined) return undefined;
    return {
      accessKeyId: r.access_key_id,
      accountId: r.account_id,
      roleName: r.role_name,
      roleId: r.role_id,
      rolePath: r.role_path,
      sessionName: r.session_name,
      secretEnc: r.secret_enc,
      tokenSha256: r.token_sha256,
      ...(r.session_policy !== null ? { sessionPolicy: r.session_policy } : {}),
      ...(r.policy_arns !== null ? { policyArns: JSON.parse(r.policy_arns) as string[] } : {}),
      source: r.source,
      ...(r.source_identity !== null ? { sourceIdentity: r.source_identity } : {}),
      tags: JSON.parse(r.tags) as Array<{ Key: string; Value: string }>,
      expiresAt: Number(r.expires_at),
      createdAt: Number(r.created_at),
    };
  }

  /** Forgets sessions that expired before `before` (epoch ms); answers how many. */
  async purgeSessions(before: number): Promise<number> {
    const r = await this.db.deleteFrom('sts_sessions').where('expires_at', '<', before).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
