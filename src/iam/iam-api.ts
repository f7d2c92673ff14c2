// IAM's API (the subset berth serves, src/iam/generated/iam.ts): users and their access keys,
// groups, roles with trust policies, customer managed policies, attachments, inline policies and
// OpenID Connect providers, with IAM's exception names, messages, quotas and ARNs. Every operation
// is authorized as `iam:<Operation>` on the entity's ARN, like any other request to berth.
import { randomBytes } from 'node:crypto';
import { hashSecret, newAccessKeyId, newSecretAccessKey, rootArn, roleArn } from '../auth/index.ts';
import { MANAGED_POLICIES, managedPolicy, parsePolicy, PolicySyntaxError, type PolicyKind } from '../auth/policy/index.ts';
import { customerPolicyArn, type IamPolicy, type IamPrincipal, type IamPrincipalKind } from '../meta/iam.ts';
import type { Group, Operations, Policy, Role, Tag, User } from './generated/iam.ts';
import { defineService, IAM_META, QueryException, type QueryContext, type QueryHandler } from './query.ts';
import { issuerOf } from './oidc.ts';

type Op<K extends keyof Operations> = (ctx: QueryContext, input: Operations[K]['input']) => Promise<Operations[K]['output'] | undefined>;

/** An operation as the dispatcher calls it (its input was validated against the operation's model shape). */
function op<K extends keyof Operations>(fn: Op<K>): QueryHandler {
  return fn;
}

/** IAM's quotas (IAM user guide, "IAM and AWS STS quotas"), the defaults an account has. */
export const IAM_QUOTAS = {
  accessKeysPerUser: 2,
  groupsPerUser: 10,
  managedPoliciesPerEntity: 10,
  inlineUserPolicyBytes: 2048,
  inlineGroupPolicyBytes: 5120,
  inlineRolePolicyBytes: 10240,
  managedPolicyBytes: 6144,
  trustPolicyBytes: 2048,
} as const;

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** An IAM unique id: a four-letter prefix (AIDA user, AGPA group, AROA role, ANPA policy) and 17 characters. */
export function newIamId(prefix: 'AIDA' | 'AGPA' | 'AROA' | 'ANPA'): string {
  const bytes = randomBytes(17);
  let out = prefix;
  for (const b of bytes) out += ID_ALPHABET[b % 32];
  return out;
}

const SECONDS = (ms: number): number => ms / 1000;

function entityArn(accountId: string, kind: IamPrincipalKind, path: string, name: string): string {
  return kind === 'role' ? roleArn(accountId, path, name) : `arn:aws:iam::${accountId}:${kind}${path}${name}`;
}

const KIND_WORD: Record<IamPrincipalKind, string> = { user: 'user', group: 'group', role: 'role' };

async function entity(ctx: QueryContext, kind: IamPrincipalKind, name: string): Promise<IamPrincipal> {
  const e = await ctx.deps.meta.iam.get(ctx.accountId, kind, name);
  if (e === undefined) throw new QueryException('NoSuchEntityException', `The ${KIND_WORD[kind]} with name ${name} cannot be found.`);
  return e;
}

/** Authorizes `iam:<action>` on an entity's ARN, the entity read first when it exists (its path is in its ARN). */
async function authorizeOn(ctx: QueryContext, action: string, kind: IamPrincipalKind, name: string): Promise<IamPrincipal | undefined> {
  const e = await ctx.deps.meta.iam.get(ctx.accountId, kind, name);
  await ctx.authorize(`iam:${action}`, entityArn(ctx.accountId, kind, e?.path ?? '/', name));
  return e;
}

/** Refuses a path IAM would refuse: it begins and ends with `/`. */
function checkPath(path: string | undefined): string {
  const p = path ?? '/';
  if (!p.startsWith('/') || !p.endsWith('/')) throw new QueryException('ValidationError', `The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.`);
  return p;
}

function checkTags(tags: Tag[] | undefined): Array<{ Key: string; Value: string }> {
  const list = tags ?? [];
  const seen = new Set<string>();
  for (const t of list) {
    const k = t.Key.toLowerCase();
    if (k.startsWith('aws:')) throw new QueryException('InvalidInputException', `Tag keys starting with 'aws:' are reserved for AWS use: ${t.Key}`);
    if (seen.has(k)) throw new QueryException('InvalidInputException', 'Duplicate tag keys found. Please note that Tag keys are case insensitive.');
    seen.add(k);
  }
  return list.map((t) => ({ Key: t.Key, Value: t.Value }));
}

/** A policy document's size as IAM counts it: without whitespace. */
function packedSize(text: string): number {
  return text.replace(/\s+/g, '').length;
}

/** Parses a document as IAM would take it; MalformedPolicyDocument naming the problem otherwise. */
function checkDocument(text: string, kind: PolicyKind, maxBytes: number, quota: string): void {
  try {
    parsePolicy(text, kind);
  } catch (e) {
    if (e instanceof PolicySyntaxError) throw new QueryException('MalformedPolicyDocumentException', e.message);
    throw e;
  }
  if (packedSize(text) > maxBytes) throw new QueryException('LimitExceededException', `Cannot exceed quota for ${quota}: ${maxBytes}`);
}

/** IAM answers policy documents URL-encoded (RFC 3986); the CLI decodes them for display. */
function encodedDocument(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Markers: the name the next page starts after. */
function marker(after: string): string {
  return Buffer.from(JSON.stringify({ v: 1, after })).toString('base64url');
}

function fromMarker(m: string | undefined): string | undefined {
  if (m === undefined) return undefined;
  try {
    const v = JSON.parse(Buffer.from(m, 'base64url').toString('utf8')) as { v?: unknown; after?: unknown };
    if (v.v === 1 && typeof v.after === 'string') return v.after;
  } catch {
    // fall through
  }
  throw new QueryException('ValidationError', 'Invalid Marker: use the Marker of a previous response');
}

/**
 * A page of a list in the order of `name` (code units, the order the Marker compares in: a store's
 * order, by creation date or by a database collation, would let a page boundary skip items), with
 * IAM's IsTruncated and Marker.
 */
function page<T>(list: T[], name: (t: T) => string, input: { Marker?: string; MaxItems?: number }): { items: T[]; IsTruncated: boolean; Marker?: string } {
  const after = fromMarker(input.Marker);
  const max = input.MaxItems ?? 100;
  const items = [...list].sort((a, b) => (name(a) < name(b) ? -1 : name(a) > name(b) ? 1 : 0));
  const rest = after === undefined ? items : items.filter((t) => name(t) > after);
  const items2 = rest.slice(0, max);
  const truncated = rest.length > max;
  return { items: items2, IsTruncated: truncated, ...(truncated ? { Marker: marker(name(items2[items2.length - 1] as T)) } : {}) };
}

async function allPrincipals(ctx: QueryContext, kind: IamPrincipalKind, pathPrefix?: string): Promise<IamPrincipal[]> {
  const out: IamPrincipal[] = [];
  for (let after: string | undefined; ; ) {
    const batch = await ctx.deps.meta.iam.list(ctx.accountId, kind, { limit: 1000, ...(after !== undefined ? { after } : {}), ...(pathPrefix !== undefined ? { pathPrefix } : {}) });
    out.push(...batch);
    if (batch.length < 1000) return out;
    after = batch[batch.length - 1]?.name;
  }
}

function userShape(e: IamPrincipal): User {
  return { Path: e.path, UserName: e.name, UserId: e.id, Arn: entityArn(e.accountId, 'user', e.path, e.name), CreateDate: SECONDS(e.createdAt), ...(e.tags.length > 0 ? { Tags: e.tags } : {}) };
}

function groupShape(e: IamPrincipal): Group {
  return { Path: e.path, GroupName: e.name, GroupId: e.id, Arn: entityArn(e.accountId, 'group', e.path, e.name), CreateDate: SECONDS(e.createdAt) };
}

function roleShape(e: IamPrincipal): Role {
  return {
    Path: e.path,
    RoleName: e.name,
    RoleId: e.id,
    Arn: entityArn(e.accountId, 'role', e.path, e.name),
    CreateDate: SECONDS(e.createdAt),
    ...(e.trustPolicy !== undefined ? { AssumeRolePolicyDocument: encodedDocument(e.trustPolicy) } : {}),
    ...(e.description !== undefined ? { Description: e.description } : {}),
    MaxSessionDuration: e.maxSessionSeconds ?? 3600,
    ...(e.tags.length > 0 ? { Tags: e.tags } : {}),
  };
}

/** A managed policy by ARN: the account's own, or one of AWS's that berth knows. */
async function findPolicy(ctx: QueryContext, arn: string): Promise<{ arn: string; own?: IamPolicy; aws?: (typeof MANAGED_POLICIES)[number] }> {
  const own = await ctx.deps.meta.iam.policyByArn(ctx.accountId, arn);
  if (own !== undefined) return { arn, own };
  const aws = managedPolicy(arn);
  if (aws !== undefined) return { arn, aws };
  throw new QueryException('NoSuchEntityException', `Policy ${arn} does not exist or is not attachable.`);
}

async function policyShape(ctx: QueryContext, p: { arn: string; own?: IamPolicy; aws?: (typeof MANAGED_POLICIES)[number] }): Promise<Policy> {
  const count = await ctx.deps.meta.iam.attachmentCount(ctx.accountId, p.arn);
  if (p.own !== undefined) {
    const o = p.own;
    return {
      PolicyName: o.name,
      PolicyId: o.id,
      Arn: p.arn,
      Path: o.path,
      DefaultVersionId: 'v1',
      AttachmentCount: count,
      PermissionsBoundaryUsageCount: 0,
      IsAttachable: true,
      ...(o.description !== undefined ? { Description: o.description } : {}),
      CreateDate: SECONDS(o.createdAt),
      UpdateDate: SECONDS(o.updatedAt),
    };
  }
  const a = p.aws as (typeof MANAGED_POLICIES)[number];
  return { PolicyName: a.name, Arn: a.arn, Path: '/', DefaultVersionId: 'v1', AttachmentCount: count, PermissionsBoundaryUsageCount: 0, IsAttachable: true, Description: a.description };
}

/** Attach, detach and list managed policies of users, groups and roles. */
function attachOps(kind: IamPrincipalKind, Kind: 'User' | 'Group' | 'Role'): Record<string, QueryHandler> {
  const nameKey = `${Kind}Name`;
  const attach: QueryHandler = async (ctx, input) => {
    const name = input[nameKey] as string;
    const arn = input.PolicyArn as string;
    await authorizeOn(ctx, `Attach${Kind}Policy`, kind, name);
    await entity(ctx, kind, name);
    await findPolicy(ctx, arn);
    const have = await ctx.deps.meta.iam.attached(ctx.accountId, kind, name);
    if (!have.includes(arn) && have.length >= IAM_QUOTAS.managedPoliciesPerEntity) throw new QueryException('LimitExceededException', `Cannot exceed quota for PoliciesPer${Kind}: ${IAM_QUOTAS.managedPoliciesPerEntity}`);
    await ctx.deps.meta.iam.attach(ctx.accountId, kind, name, arn);
    return undefined;
  };
  const detach: QueryHandler = async (ctx, input) => {
    const name = input[nameKey] as string;
    const arn = input.PolicyArn as string;
    await authorizeOn(ctx, `Detach${Kind}Policy`, kind, name);
    await entity(ctx, kind, name);
    if (!(await ctx.deps.meta.iam.detach(ctx.accountId, kind, name, arn))) throw new QueryException('NoSuchEntityException', `Policy ${arn} was not found.`);
    return undefined;
  };
  const list: QueryHandler = async (ctx, input) => {
    const name = input[nameKey] as string;
    await authorizeOn(ctx, `ListAttached${Kind}Policies`, kind, name);
    await entity(ctx, kind, name);
    const prefix = (input.PathPrefix as string | undefined) ?? '/';
    const arns = (await ctx.deps.meta.iam.attached(ctx.accountId, kind, name)).filter((a) => (/:policy(\/.*\/|\/)/.exec(a)?.[1] ?? '/').startsWith(prefix));
    const p = page(arns, (a) => a, input);
    return { AttachedPolicies: p.items.map((a) => ({ PolicyName: a.slice(a.lastIndexOf('/') + 1), PolicyArn: a })), IsTruncated: p.IsTruncated, ...(p.Marker !== undefined ? { Marker: p.Marker } : {}) };
  };
  return { [`Attach${Kind}Policy`]: attach, [`Detach${Kind}Policy`]: detach, [`ListAttached${Kind}Policies`]: list };
}

/** Put, get, delete and list inline policies of users, groups and roles. */
function inlineOps(kind: IamPrincipalKind, Kind: 'User' | 'Group' | 'Role', maxBytes: number): Record<string, QueryHandler> {
  const nameKey = `${Kind}Name`;
  const notFound = (name: string, policyName: string): QueryException => new QueryException('NoSuchEntityException', `The ${KIND_WORD[kind]} policy with name ${policyName} cannot be found.${name === '' ? '' : ''}`);
  const put: QueryHandler = async (ctx, input) => {
    const name = input[nameKey] as string;
    await authorizeOn(ctx, `Put${Kind}Policy`, kind, name);
    await entity(ctx, kind, name);
    const doc = input.PolicyDocument as string;
    try {
      parsePolicy(doc, 'identity');
    } catch (e) {
      if (e instanceof PolicySyntaxError) throw new QueryException('MalformedPolicyDocumentException', e.message);
      throw e;
    }
    const others = (await ctx.deps.meta.iam.inline(ctx.accountId, kind, name)).filter((p) => p.policyName !== input.PolicyName);
    const total = others.reduce((n, p) => n + packedSize(p.document), packedSize(doc));
    if (total > maxBytes) throw new QueryException('LimitExceededException', `Maximum policy size of ${maxBytes} bytes exceeded for ${KIND_WORD[kind]} ${name}`);
    await ctx.deps.meta.iam.putInline(ctx.accountId, kind, name, input.PolicyName as string, doc);
    return undefined;
  };
  const get: QueryHandler = async (ctx, input) => {
    const name = input[nameKey] as string;
    await authorizeOn(ctx, `Get${Kind}Policy`, kind, name);
    await entity(ctx, kind, name);
    const p = (await ctx.deps.meta.iam.inline(ctx.accountId, kind, name)).find((x) => x.policyName === input.PolicyName);
    if (p === undefined) throw notFound(name, input.PolicyName as string);
    return { [nameKey]: name, PolicyName: p.policyName, PolicyDocument: encodedDocument(p.document) };
  };
  const del: QueryHandler = async (ctx, input) => {
    const name = input[nameKey] as string;
    await authorizeOn(ctx, `Delete${Kind}Policy`, kind, name);
    await entity(ctx, kind, name);
    if (!(await ctx.deps.meta.iam.putInline(ctx.accountId, kind, name, input.PolicyName as string, null))) throw notFound(name, input.PolicyName as string);
    return undefined;
  };
  const list: QueryHandler = async (ctx, input) => {
    const name = input[nameKey] as string;
    await authorizeOn(ctx, `List${Kind}Policies`, kind, name);
    await entity(ctx, kind, name);
    const names = (await ctx.deps.meta.iam.inline(ctx.accountId, kind, name)).map((p) => p.policyName);
    const p = page(names, (n) => n, input);
    return { PolicyNames: p.items, IsTruncated: p.IsTruncated, ...(p.Marker !== undefined ? { Marker: p.Marker } : {}) };
  };
  return { [`Put${Kind}Policy`]: put, [`Get${Kind}Policy`]: get, [`Delete${Kind}Policy`]: del, [`List${Kind}Policies`]: list };
}

/**
 * The user an access-key operation is about (the named one, or the caller: its own keys, the root
 * user's for root), once the caller may do `iam:<action>` on it: on the user's ARN, with its path.
 */
async function keyOwner(ctx: QueryContext, action: string, userName: string | undefined): Promise<string> {
  const p = ctx.principal;
  if (userName === undefined && p?.kind === 'root') {
    await ctx.authorize(`iam:${action}`, rootArn(ctx.accountId));
    return 'root';
  }
  const name = userName ?? (p?.kind === 'user' ? p.userName : undefined);
  if (name === undefined) throw new QueryException('ValidationError', 'Must specify a userName when calling with non-User credentials');
  // `root` names the root user's keys, never an IAM user's (CreateUser refuses the name).
  if ((await authorizeOn(ctx, action, 'user', name)) === undefined || name === 'root') throw new QueryException('NoSuchEntityException', `The user with name ${name} cannot be found.`);
  return name;
}

/** The OIDC provider an ARN of this account names. */
function providerIssuer(ctx: QueryContext, arn: string): string {
  const m = /^arn:aws:iam::(\d{12}):oidc-provider\/(.+)$/.exec(arn);
  if (m === null || m[1] !== ctx.accountId) throw new QueryException('InvalidInputException', `Invalid ARN for an OpenID Connect provider of this account: ${arn}`);
  return m[2] as string;
}

const createUser: Op<'CreateUser'> = async (ctx, input) => {
  const path = checkPath(input.Path);
  await ctx.authorize('iam:CreateUser', entityArn(ctx.accountId, 'user', path, input.UserName), tagFacts(input.Tags));
  if (input.PermissionsBoundary !== undefined) throw new QueryException('InvalidInputException', 'berth does not support permissions boundaries: attach policies that grant only what the user may do');
  // Access keys of the account's root user are stored under the user name `root`: a user of that
  // name would be given keys that authenticate as the root user.
  if (input.UserName.toLowerCase() === 'root') throw new QueryException('InvalidInputException', 'The user name root is reserved for the account\'s root user.');
  const e: IamPrincipal = { accountId: ctx.accountId, kind: 'user', name: input.UserName, id: newIamId('AIDA'), path, tags: checkTags(input.Tags), createdAt: ctx.now };
  if (!(await ctx.deps.meta.iam.create(e))) throw new QueryException('EntityAlreadyExistsException', `User with name ${input.UserName} already exists.`);
  return { User: userShape(e) };
};

/** aws:RequestTag/* and aws:TagKeys of a request that tags what it creates. */
function tagFacts(tags: Tag[] | undefined): { requestTags?: Record<string, string> } {
  return tags === undefined ? {} : { requestTags: Object.fromEntries(tags.map((t) => [t.Key, t.Value])) };
}

const getUser: Op<'GetUser'> = async (ctx, input) => {
  const p = ctx.principal;
  if (input.UserName === undefined && p?.kind === 'root') {
    await ctx.authorize('iam:GetUser', rootArn(ctx.accountId));
    const account = await ctx.deps.meta.accounts.get(ctx.accountId);
    return { User: { Path: '/', UserName: 'root', UserId: ctx.accountId, Arn: rootArn(ctx.accountId), CreateDate: SECONDS(account?.createdAt ?? ctx.now) } };
  }
  const name = input.UserName ?? (p?.kind === 'user' ? p.userName : undefined);
  if (name === undefined) throw new QueryException('ValidationError', 'Must specify userName when calling with non-User credentials');
  await authorizeOn(ctx, 'GetUser', 'user', name);
  return { User: userShape(await entity(ctx, 'user', name)) };
};

const deleteUser: Op<'DeleteUser'> = async (ctx, input) => {
  const name = input.UserName;
  await authorizeOn(ctx, 'DeleteUser', 'user', name);
  await entity(ctx, 'user', name);
  const iam = ctx.deps.meta.iam;
  if ((await ctx.deps.meta.accessKeys.listForUser(ctx.accountId, name)).length > 0) throw new QueryException('DeleteConflictException', 'Cannot delete entity, must delete access keys first.');
  if ((await iam.inline(ctx.accountId, 'user', name)).length > 0) throw new QueryException('DeleteConflictException', 'Cannot delete entity, must delete policies first.');
  if ((await iam.attached(ctx.accountId, 'user', name)).length > 0) throw new QueryException('DeleteConflictException', 'Cannot delete entity, must detach all policies first.');
  if ((await iam.groupsOf(ctx.accountId, name)).length > 0) throw new QueryException('DeleteConflictException', 'Cannot delete entity, must remove users from group first.');
  await iam.delete(ctx.accountId, 'user', name);
  return undefined;
};

const listUsers: Op<'ListUsers'> = async (ctx, input) => {
  await ctx.authorize('iam:ListUsers', `arn:aws:iam::${ctx.accountId}:user/`);
  const p = page(await allPrincipals(ctx, 'user', input.PathPrefix), (e) => e.name, input);
  return { Users: p.items.map(userShape), IsTruncated: p.IsTruncated, ...(p.Marker !== undefined ? { Marker: p.Marker } : {}) };
};

const createAccessKey: Op<'CreateAccessKey'> = async (ctx, input) => {
  const user = await keyOwner(ctx, 'CreateAccessKey', input.UserName);
  const keys = await ctx.deps.meta.accessKeys.listForUser(ctx.accountId, user);
  if (keys.length >= IAM_QUOTAS.accessKeysPerUser) throw new QueryException('LimitExceededException', `Cannot exceed quota for AccessKeysPerUser: ${IAM_QUOTAS.accessKeysPerUser}`);
  const accessKeyId = newAccessKeyId();
  const secret = newSecretAccessKey();
  await ctx.deps.meta.accessKeys.put({ accessKeyId, accountId: ctx.accountId, userName: user, secretHash: await hashSecret(secret), secretEnc: ctx.deps.keyring.encrypt(secret), status: 'Active', createdAt: ctx.now });
  return { AccessKey: { UserName: user, AccessKeyId: accessKeyId, Status: 'Active', SecretAccessKey: secret, CreateDate: SECONDS(ctx.now) } };
};

const listAccessKeys: Op<'ListAccessKeys'> = async (ctx, input) => {
  const user = await keyOwner(ctx, 'ListAccessKeys', input.UserName);
  const keys = await ctx.deps.meta.accessKeys.listForUser(ctx.accountId, user);
  const p = page(keys, (k) => k.accessKeyId, input);
  return { AccessKeyMetadata: p.items.map((k) => ({ UserName: user, AccessKeyId: k.accessKeyId, Status: k.status, CreateDate: SECONDS(k.createdAt) })), IsTruncated: p.IsTruncated, ...(p.Marker !== undefined ? { Marker: p.Marker } : {}) };
};

async function ownedKey(ctx: QueryContext, user: string, accessKeyId: string): Promise<NonNullable<Awaited<ReturnType<QueryContext['deps']['meta']['accessKeys']['get']>>>> {
  const key = await ctx.deps.meta.accessKeys.get(accessKeyId);
  if (key === undefined || key.accountId !== ctx.accountId || key.userName !== user) throw new QueryException('NoSuchEntityException', `The Access Key with id ${accessKeyId} cannot be found.`);
  return key;
}

const deleteAccessKey: Op<'DeleteAccessKey'> = async (ctx, input) => {
  const user = await keyOwner(ctx, 'DeleteAccessKey', input.UserName);
  await ownedKey(ctx, user, input.AccessKeyId);
  await ctx.deps.meta.accessKeys.delete(input.AccessKeyId);
  ctx.deps.invalidateKey(input.AccessKeyId);
  return undefined;
};

const updateAccessKey: Op<'UpdateAccessKey'> = async (ctx, input) => {
  const user = await keyOwner(ctx, 'UpdateAccessKey', input.UserName);
  const key = await ownedKey(ctx, user, input.AccessKeyId);
  if (input.Status === 'Expired') throw new QueryException('ValidationError', "1 validation error detected: Value 'Expired' at 'status' failed to satisfy constraint: Member must be Active or Inactive");
  await ctx.deps.meta.accessKeys.put({ ...key, status: input.Status });
  ctx.deps.invalidateKey(input.AccessKeyId);
  return undefined;
};

const createGroup: Op<'CreateGroup'> = async (ctx, input) => {
  const path = checkPath(input.Path);
  await ctx.authorize('iam:CreateGroup', entityArn(ctx.accountId, 'group', path, input.GroupName));
  const e: IamPrincipal = { accountId: ctx.accountId, kind: 'group', name: input.GroupName, id: newIamId('AGPA'), path, tags: [], createdAt: ctx.now };
  if (!(await ctx.deps.meta.iam.create(e))) throw new QueryException('EntityAlreadyExistsException', `Group with name ${input.GroupName} already exists.`);
  return { Group: groupShape(e) };
};

const getGroup: Op<'GetGroup'> = async (ctx, input) => {
  await authorizeOn(ctx, 'GetGroup', 'group', input.GroupName);
  const g = await entity(ctx, 'group', input.GroupName);
  const users: IamPrincipal[] = [];
  for (const n of await ctx.deps.meta.iam.membersOf(ctx.accountId, g.name)) {
    const u = await ctx.deps.meta.iam.get(ctx.accountId, 'user', n);
    if (u !== undefined) users.push(u);
  }
  const p = page(users, (u) => u.name, input);
  return { Group: groupShape(g), Users: p.items.map(userShape), IsTruncated: p.IsTruncated, ...(p.Marker !== undefined ? { Marker: p.Marker } : {}) };
};

const deleteGroup: Op<'DeleteGroup'> = async (ctx, input) => {
  const name = input.GroupName;
  await authorizeOn(ctx, 'DeleteGroup', 'group', name);
  await entity(ctx, 'group', name);
  const iam = ctx.deps.meta.iam;
  if ((await iam.membersOf(ctx.accountId, name)).length > 0) throw new QueryException('DeleteConflictException', 'Cannot delete entity, must remove users from group first.');
  if ((await iam.inline(ctx.accountId, 'group', name)).length > 0) throw new QueryException('DeleteConflictException', 'Cannot delete entity, must delete policies first.');
  if ((await iam.attached(ctx.accountId, 'group', name)).length > 0) throw new QueryException('DeleteConflictException', 'Cannot delete entity, must detach all policies first.');
  await iam.delete(ctx.accountId, 'group', name);
  return undefined;
};

const listGroups: Op<'ListGroups'> = async (ctx, input) => {
  await ctx.authorize('iam:ListGroups', `arn:aws:iam::${ctx.accountId}:group/`);
  const p = page(await allPrincipals(ctx, 'group', input.PathPrefix), (e) => e.name, input);
  return { Groups: p.items.map(groupShape), IsTruncated: p.IsTruncated, ...(p.Marker !== undefined ? { Marker: p.Marker } : {}) };
};

const listGroupsForUser: Op<'ListGroupsForUser'> = async (ctx, input) => {
  await authorizeOn(ctx, 'ListGroupsForUser', 'user', input.UserName);
  await entity(ctx, 'user', input.UserName);
  const groups: IamPrincipal[] = [];
  for (const n of await ctx.deps.meta.iam.groupsOf(ctx.accountId, input.UserName)) {
    const g = await ctx.deps.meta.iam.get(ctx.accountId, 'group', n);
    if (g !== undefined) groups.push(g);
  }
  const p = page(groups, (g) => g.name, input);
  return { Groups: p.items.map(groupShape), IsTruncated: p.IsTruncated, ...(p.Marker !== undefined ? { Marker: p.Marker } : {}) };
};

const addUserToGroup: Op<'AddUserToGroup'> = async (ctx, input) => {
  await authorizeOn(ctx, 'AddUserToGroup', 'group', input.GroupName);
  await entity(ctx, 'group', input.GroupName);
  await entity(ctx, 'user', input.UserName);
  const groups = await ctx.deps.meta.iam.groupsOf(ctx.accountId, input.UserName);
  if (!groups.includes(input.GroupName) && groups.length >= IAM_QUOTAS.groupsPerUser) throw new QueryException('LimitExceededException', `Cannot exceed quota for GroupsPerUser: ${IAM_QUOTAS.groupsPerUser}`);
  await ctx.deps.meta.iam.addToGroup(ctx.accountId, input.GroupName, input.UserName);
  return undefined;
};

const removeUserFromGroup: Op<'RemoveUserFromGroup'> = async (ctx, input) => {
  await authorizeOn(ctx, 'RemoveUserFromGroup', 'group', input.GroupName);
  await entity(ctx, 'group', input.GroupName);
  await entity(ctx, 'user', input.UserName);
  if (!(await ctx.deps.meta.iam.removeFromGroup(ctx.accountId, input.GroupName, input.UserName))) {
    throw new QueryException('NoSuchEntityException', `The user with name ${input.UserName} is not a member of group ${input.GroupName}.`);
  }
  return undefined;
};

const createRole: Op<'CreateRole'> = async (ctx, input) => {
  const path = checkPath(input.Path);
  await ctx.authorize('iam:CreateRole', roleArn(ctx.accountId, path, input.RoleName), tagFacts(input.Tags));
  if (input.PermissionsBoundary !== undefined) throw new QueryException('InvalidInputException', 'berth does not support permissions boundaries: attach policies that grant only what the role may do');
  checkDocument(input.AssumeRolePolicyDocument, 'trust', IAM_QUOTAS.trustPolicyBytes, 'ACLSizePerRole');
  const e: IamPrincipal = {
    accountId: ctx.accountId,
    kind: 'role',
    name: input.RoleName,
    id: newIamId('AROA'),
    path,
    trustPolicy: input.AssumeRolePolicyDocument,
    maxSessionSeconds: input.MaxSessionDuration ?? 3600,
    ...(input.Description !== undefined ? { description: input.Description } : {}),
    tags: checkTags(input.Tags),
    createdAt: ctx.now,
  };
  if (!(await ctx.deps.meta.iam.create(e))) throw new QueryException('EntityAlreadyExistsException', `Role with name ${input.RoleName} already exists.`);
  return { Role: roleShape(e) };
};

const getRole: Op<'GetRole'> = async (ctx, input) => {
  await authorizeOn(ctx, 'GetRole', 'role', input.RoleName);
  return { Role: roleShape(await entity(ctx, 'role', input.RoleName)) };
};

const deleteRole: Op<'DeleteRole'> = async (ctx, input) => {
  const name = input.RoleName;
  await authorizeOn(ctx, 'DeleteRole', 'role', name);
  await entity(ctx, 'role', name);
  if ((await ctx.deps.meta.iam.inline(ctx.accountId, 'role', name)).length > 0) throw new QueryException('DeleteConflictException', 'Cannot delete entity, must delete policies first.');
  if ((await ctx.deps.meta.iam.attached(ctx.accountId, 'role', name)).length > 0) throw new QueryException('DeleteConflictException', 'Cannot delete entity, must detach all policies first.');
  await ctx.deps.meta.iam.delete(ctx.accountId, 'role', name);
  return undefined;
};

const listRoles: Op<'ListRoles'> = async (ctx, input) => {
  await ctx.authorize('iam:ListRoles', `arn:aws:iam::${ctx.accountId}:role/`);
  const p = page(await allPrincipals(ctx, 'role', input.PathPrefix), (e) => e.name, input);
  return { Roles: p.items.map(roleShape), IsTruncated: p.IsTruncated, ...(p.Marker !== undefined ? { Marker: p.Marker } : {}) };
};

const updateAssumeRolePolicy: Op<'UpdateAssumeRolePolicy'> = async (ctx, input) => {
  await authorizeOn(ctx, 'UpdateAssumeRolePolicy', 'role', input.RoleName);
  await entity(ctx, 'role', input.RoleName);
  checkDocument(input.PolicyDocument, 'trust', IAM_QUOTAS.trustPolicyBytes, 'ACLSizePerRole');
  await ctx.deps.meta.iam.setTrustPolicy(ctx.accountId, input.RoleName, input.PolicyDocument);
  return undefined;
};

/** The account's customer managed policy with that name in any case. */
async function policyNamed(ctx: QueryContext, name: string): Promise<IamPolicy | undefined> {
  const lower = name.toLowerCase();
  for (let after: string | undefined; ; ) {
    const batch = await ctx.deps.meta.iam.listPolicies(ctx.accountId, { limit: 1000, ...(after !== undefined ? { after } : {}) });
    const hit = batch.find((p) => p.name.toLowerCase() === lower);
    if (hit !== undefined || batch.length < 1000) return hit;
    after = batch[batch.length - 1]?.name;
  }
}

const createPolicy: Op<'CreatePolicy'> = async (ctx, input) => {
  const path = checkPath(input.Path);
  const arn = customerPolicyArn(ctx.accountId, path, input.PolicyName);
  await ctx.authorize('iam:CreatePolicy', arn, tagFacts(input.Tags));
  checkDocument(input.PolicyDocument, 'identity', IAM_QUOTAS.managedPolicyBytes, 'PolicySize');
  checkTags(input.Tags);
  const p: IamPolicy = {
    accountId: ctx.accountId,
    name: input.PolicyName,
    id: newIamId('ANPA'),
    path,
    ...(input.Description !== undefined ? { description: input.Description } : {}),
    document: input.PolicyDocument,
    createdAt: ctx.now,
    updatedAt: ctx.now,
  };
  // Policy names are unique in an account whatever their case, as user, group and role names are.
  if ((await policyNamed(ctx, input.PolicyName)) !== undefined || !(await ctx.deps.meta.iam.createPolicy(p))) {
    throw new QueryException('EntityAlreadyExistsException', `A policy called ${input.PolicyName} already exists. Duplicate names are not allowed.`);
  }
  return { Policy: await policyShape(ctx, { arn, own: p }) };
};

const getPolicy: Op<'GetPolicy'> = async (ctx, input) => {
  await ctx.authorize('iam:GetPolicy', input.PolicyArn);
  return { Policy: await policyShape(ctx, await findPolicy(ctx, input.PolicyArn)) };
};

const deletePolicy: Op<'DeletePolicy'> = async (ctx, input) => {
  await ctx.authorize('iam:DeletePolicy', input.PolicyArn);
  const p = await findPolicy(ctx, input.PolicyArn);
  if (p.own === undefined) throw new QueryException('InvalidInputException', `AWS managed policies cannot be deleted: ${input.PolicyArn}`);
  if ((await ctx.deps.meta.iam.attachmentCount(ctx.accountId, input.PolicyArn)) > 0) throw new QueryException('DeleteConflictException', 'Cannot delete a policy attached to entities.');
  await ctx.deps.meta.iam.deletePolicy(ctx.accountId, p.own.name);
  return undefined;
};

const listPolicies: Op<'ListPolicies'> = async (ctx, input) => {
  await ctx.authorize('iam:ListPolicies', `arn:aws:iam::${ctx.accountId}:policy/`);
  const scope = input.Scope ?? 'All';
  const all: Array<{ arn: string; own?: IamPolicy; aws?: (typeof MANAGED_POLICIES)[number] }> = [];
  if (scope !== 'Local') for (const a of MANAGED_POLICIES) all.push({ arn: a.arn, aws: a });
  if (scope !== 'AWS') {
    for (let after: string | undefined; ; ) {
      const batch = await ctx.deps.meta.iam.listPolicies(ctx.accountId, { limit: 1000, ...(after !== undefined ? { after } : {}) });
      for (const p of batch) all.push({ arn: customerPolicyArn(p.accountId, p.path, p.name), own: p });
      if (batch.length < 1000) break;
      after = batch[batch.length - 1]?.name;
    }
  }
  const prefix = input.PathPrefix ?? '/';
  const shapes = [];
  for (const p of all) {
    const s = await policyShape(ctx, p);
    if ((s.Path ?? '/').startsWith(prefix) && (input.OnlyAttached !== true || (s.AttachmentCount ?? 0) > 0)) shapes.push(s);
  }
  shapes.sort((a, b) => ((a.Arn ?? '') < (b.Arn ?? '') ? -1 : 1));
  const p = page(shapes, (s) => s.Arn ?? '', input);
  return { Policies: p.items, IsTruncated: p.IsTruncated, ...(p.Marker !== undefined ? { Marker: p.Marker } : {}) };
};

const createOidcProvider: Op<'CreateOpenIDConnectProvider'> = async (ctx, input) => {
  const issuer = issuerOf(input.Url);
  if (issuer === undefined) throw new QueryException('InvalidInputException', `Invalid OpenID Connect provider URL ${input.Url}: it must be https://host[/path] (http:// only on a loopback address), without query or fragment`);
  const arn = `arn:aws:iam::${ctx.accountId}:oidc-provider/${issuer}`;
  await ctx.authorize('iam:CreateOpenIDConnectProvider', arn, tagFacts(input.Tags));
  const ok = await ctx.deps.meta.iam.createOidcProvider({
    accountId: ctx.accountId,
    issuer,
    url: input.Url.replace(/\/+$/, ''),
    clientIds: [...new Set(input.ClientIDList ?? [])],
    thumbprints: input.ThumbprintList ?? [],
    tags: checkTags(input.Tags),
    createdAt: ctx.now,
  });
  if (!ok) throw new QueryException('EntityAlreadyExistsException', `Provider with url ${input.Url} already exists.`);
  return { OpenIDConnectProviderArn: arn, ...(input.Tags !== undefined ? { Tags: input.Tags } : {}) };
};

const getOidcProvider: Op<'GetOpenIDConnectProvider'> = async (ctx, input) => {
  const issuer = providerIssuer(ctx, input.OpenIDConnectProviderArn);
  await ctx.authorize('iam:GetOpenIDConnectProvider', input.OpenIDConnectProviderArn);
  const p = await ctx.deps.meta.iam.getOidcProvider(ctx.accountId, issuer);
  if (p === undefined) throw new QueryException('NoSuchEntityException', `OpenIDConnect Provider not found for arn ${input.OpenIDConnectProviderArn}`);
  return { Url: p.issuer, ClientIDList: p.clientIds, ThumbprintList: p.thumbprints, CreateDate: SECONDS(p.createdAt), ...(p.tags.length > 0 ? { Tags: p.tags } : {}) };
};

const deleteOidcProvider: Op<'DeleteOpenIDConnectProvider'> = async (ctx, input) => {
  const issuer = providerIssuer(ctx, input.OpenIDConnectProviderArn);
  await ctx.authorize('iam:DeleteOpenIDConnectProvider', input.OpenIDConnectProviderArn);
  if (!(await ctx.deps.meta.iam.deleteOidcProvider(ctx.accountId, issuer))) throw new QueryException('NoSuchEntityException', `OpenIDConnect Provider not found for arn ${input.OpenIDConnectProviderArn}`);
  return undefined;
};

const listOidcProviders: Op<'ListOpenIDConnectProviders'> = async (ctx) => {
  await ctx.authorize('iam:ListOpenIDConnectProviders', `arn:aws:iam::${ctx.accountId}:oidc-provider/`);
  return { OpenIDConnectProviderList: (await ctx.deps.meta.iam.listOidcProviders(ctx.accountId)).map((i) => ({ Arn: `arn:aws:iam::${ctx.accountId}:oidc-provider/${i}` })) };
};

const handlers: Record<string, QueryHandler> = {
  CreateUser: op(createUser),
  GetUser: op(getUser),
  DeleteUser: op(deleteUser),
  ListUsers: op(listUsers),
  CreateAccessKey: op(createAccessKey),
  ListAccessKeys: op(listAccessKeys),
  DeleteAccessKey: op(deleteAccessKey),
  UpdateAccessKey: op(updateAccessKey),
  CreateGroup: op(createGroup),
  GetGroup: op(getGroup),
  DeleteGroup: op(deleteGroup),
  ListGroups: op(listGroups),
  ListGroupsForUser: op(listGroupsForUser),
  AddUserToGroup: op(addUserToGroup),
  RemoveUserFromGroup: op(removeUserFromGroup),
  CreateRole: op(createRole),
  GetRole: op(getRole),
  DeleteRole: op(deleteRole),
  ListRoles: op(listRoles),
  UpdateAssumeRolePolicy: op(updateAssumeRolePolicy),
  CreatePolicy: op(createPolicy),
  GetPolicy: op(getPolicy),
  DeletePolicy: op(deletePolicy),
  ListPolicies: op(listPolicies),
  CreateOpenIDConnectProvider: op(createOidcProvider),
  GetOpenIDConnectProvider: op(getOidcProvider),
  DeleteOpenIDConnectProvider: op(deleteOidcProvider),
  ListOpenIDConnectProviders: op(listOidcProviders),
  ...attachOps('user', 'User'),
  ...attachOps('group', 'Group'),
  ...attachOps('role', 'Role'),
  ...inlineOps('user', 'User', IAM_QUOTAS.inlineUserPolicyBytes),
  ...inlineOps('group', 'Group', IAM_QUOTAS.inlineGroupPolicyBytes),
  ...inlineOps('role', 'Role', IAM_QUOTAS.inlineRolePolicyBytes),
};

defineService({ name: 'iam', ...IAM_META, handlers, unsigned: new Set() });

export const IAM_HANDLERS: Readonly<Record<string, QueryHandler>> = handlers;
