// STS (src/iam/generated/sts.ts): GetCallerIdentity; AssumeRole, where the role's trust policy must
// allow the caller (and, across accounts, the caller's identity policies too); and
// AssumeRoleWithWebIdentity, where an OpenID Connect token of a provider the role's account trusts
// stands in for credentials. Both hand out temporary credentials (ASIA... with a session token)
// whose permissions are the role's, limited by the session policies given.
import { createHash, randomBytes } from 'node:crypto';
import { newAccessKeyId, newSecretAccessKey, principalOfSession, roleArn } from '../auth/index.ts';
import { evaluate, managedPolicy, parsePolicy, PolicySyntaxError } from '../auth/policy/index.ts';
import type { IamPrincipal, StsSession } from '../meta/iam.ts';
import type { Credentials, Operations, PolicyDescriptorType, Tag } from './generated/sts.ts';
import { defineService, QueryException, STS_META, type QueryContext, type QueryHandler } from './query.ts';
import { WebIdentityError, WebIdentityVerifier } from './oidc.ts';

type Op<K extends keyof Operations> = (ctx: QueryContext, input: Operations[K]['input']) => Promise<Operations[K]['output']>;

function op<K extends keyof Operations>(fn: Op<K>): QueryHandler {
  return fn;
}

/** STS's limits: session length, role chaining, the packed size of session policies. */
export const STS_LIMITS = { minSeconds: 900, defaultSeconds: 3600, chainedMaxSeconds: 3600, packedPolicyChars: 2048, policyArns: 10, sessionTags: 50 } as const;

const ROLE_ARN = /^arn:aws:iam::(\d{12}):role(\/(?:[\x21-\x7e]*\/)?)([\w+=,.@-]{1,64})$/;

function parseRoleArn(arn: string): { accountId: string; path: string; name: string } {
  const m = ROLE_ARN.exec(arn);
  if (m === null) throw new QueryException('ValidationError', `${arn.slice(0, 200)} is invalid: RoleArn must be arn:aws:iam::<account>:role/<name>`);
  return { accountId: m[1] as string, path: m[2] as string, name: m[3] as string };
}

/** The session policies: the inline one parsed, the managed ones present, their packed size as a percentage. */
async function sessionPolicies(ctx: QueryContext, accountId: string, policy: string | undefined, arns: PolicyDescriptorType[] | undefined): Promise<{ policy?: string; policyArns?: string[]; packed?: number }> {
  const out: { policy?: string; policyArns?: string[]; packed?: number } = {};
  let packed = 0;
  if (policy !== undefined) {
    try {
      parsePolicy(policy, 'session');
    } catch (e) {
      if (e instanceof PolicySyntaxError) throw new QueryException('MalformedPolicyDocumentException', e.message);
      throw e;
    }
    out.policy = policy;
    packed += policy.replace(/\s+/g, '').length;
  }
  if (arns !== undefined && arns.length > 0) {
    if (arns.length > STS_LIMITS.policyArns) throw new QueryException('ValidationError', `PolicyArns can name at most ${STS_LIMITS.policyArns} policies`);
    const list: string[] = [];
    for (const d of arns) {
      const arn = d.arn ?? '';
      const exists = managedPolicy(arn) !== undefined || (await ctx.deps.meta.iam.policyByArn(accountId, arn)) !== undefined;
      if (!exists) throw new QueryException('ValidationError', `Policy ${arn.slice(0, 200)} does not exist or is not attachable.`);
      list.push(arn);
      packed += arn.length;
    }
    out.policyArns = list;
  }
  if (packed > 0) {
    const pct = Math.ceil((packed / STS_LIMITS.packedPolicyChars) * 100);
    if (pct > 100) throw new QueryException('PackedPolicyTooLargeException', `Packed policy consumes ${pct}% of allotted space, please use smaller policy.`);
    out.packed = pct;
  }
  return out;
}

function duration(requested: number | undefined, role: IamPrincipal, chained: boolean): number {
  const seconds = requested ?? STS_LIMITS.defaultSeconds;
  const max = chained ? STS_LIMITS.chainedMaxSeconds : (role.maxSessionSeconds ?? STS_LIMITS.defaultSeconds);
  if (seconds < STS_LIMITS.minSeconds) throw new QueryException('ValidationError', `1 validation error detected: Value '${seconds}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to ${STS_LIMITS.minSeconds}`);
  if (seconds > max) {
    throw new QueryException('ValidationError', chained ? 'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.' : 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.');
  }
  return seconds;
}

/** Issues and stores temporary credentials for a role session. */
async function issue(
  ctx: QueryContext,
  role: IamPrincipal,
  sessionName: string,
  seconds: number,
  source: string,
  extra: { policy?: string; policyArns?: string[]; tags?: Tag[]; sourceIdentity?: string },
): Promise<{ Credentials: Credentials; AssumedRoleUser: { AssumedRoleId: string; Arn: string } }> {
  const accessKeyId = newAccessKeyId('ASIA');
  const secret = newSecretAccessKey();
  const token = randomBytes(96).toString('base64');
  const expiresAt = ctx.now + seconds * 1000;
  const session: StsSession = {
    accessKeyId,
    accountId: role.accountId,
    roleName: role.name,
    roleId: role.id,
    rolePath: role.path,
    sessionName,
    secretEnc: ctx.deps.keyring.encrypt(secret),
    tokenSha256: createHash('sha256').update(token).digest('hex'),
    ...(extra.policy !== undefined ? { sessionPolicy: extra.policy } : {}),
    ...(extra.policyArns !== undefined ? { policyArns: extra.policyArns } : {}),
    source,
    ...(extra.sourceIdentity !== undefined ? { sourceIdentity: extra.sourceIdentity } : {}),
    tags: (extra.tags ?? []).map((t) => ({ Key: t.Key, Value: t.Value })),
    expiresAt,
    createdAt: ctx.now,
  };
  await ctx.deps.meta.iam.putSession(session);
  const p = principalOfSession(session);
  return {
    Credentials: { AccessKeyId: accessKeyId, SecretAccessKey: secret, SessionToken: token, Expiration: expiresAt / 1000 },
    AssumedRoleUser: { AssumedRoleId: `${role.id}:${sessionName}`, Arn: p.arn },
  };
}

const getCallerIdentity: Op<'GetCallerIdentity'> = async (ctx) => {
  // Needs no permission: AWS answers it even under an explicit deny.
  const p = ctx.principal;
  if (p === null) throw new QueryException('MissingAuthenticationToken', 'Missing Authentication Token');
  let userId = p.accountId;
  if (p.kind === 'user') userId = (await ctx.deps.meta.iam.get(p.accountId, 'user', p.userName))?.id ?? p.accessKeyId;
  if (p.session !== undefined) userId = `${p.session.roleId}:${p.session.sessionName}`;
  return { UserId: userId, Account: p.accountId, Arn: p.arn };
};

const assumeRole: Op<'AssumeRole'> = async (ctx, input) => {
  const p = ctx.principal;
  if (p === null) throw new QueryException('MissingAuthenticationToken', 'Missing Authentication Token');
  if (p.kind === 'root') throw new QueryException('AccessDenied', 'Roles may not be assumed by root accounts.');
  const target = parseRoleArn(input.RoleArn);
  const role = await ctx.deps.meta.iam.get(target.accountId, 'role', target.name);
  const arn = role === undefined ? input.RoleArn : roleArn(role.accountId, role.path, role.name);
  const denied = (why = ''): QueryException => new QueryException('AccessDenied', `User: ${p.arn} is not authorized to perform: sts:AssumeRole on resource: ${input.RoleArn}${why}`);
  // An unknown role is refused as one the caller may not assume: STS does not tell which roles exist.
  if (role === undefined || role.trustPolicy === undefined || arn !== input.RoleArn) throw denied();
  const tags = input.Tags ?? [];
  if (tags.length > STS_LIMITS.sessionTags) throw new QueryException('ValidationError', `Session tags are limited to ${STS_LIMITS.sessionTags}`);
  const values: Record<string, string> = { 'sts:RoleSessionName': input.RoleSessionName };
  if (input.ExternalId !== undefined) values['sts:ExternalId'] = input.ExternalId;
  if (input.SourceIdentity !== undefined) values['sts:SourceIdentity'] = input.SourceIdentity;
  const trust = { name: 'the role trust policy', document: role.trustPolicy, required: true };
  const requestTags = tags.length > 0 ? { requestTags: Object.fromEntries(tags.map((t) => [t.Key, t.Value])) } : {};
  await ctx.authorize('sts:AssumeRole', arn, { resourcePolicy: trust, values, ...requestTags });
  // Session tags and a source identity need the trust policy's consent as well.
  if (tags.length > 0) await ctx.authorize('sts:TagSession', arn, { resourcePolicy: trust, values, ...requestTags });
  if (input.SourceIdentity !== undefined) await ctx.authorize('sts:SetSourceIdentity', arn, { resourcePolicy: trust, values });
  const seconds = duration(input.DurationSeconds, role, p.kind === 'assumed-role');
  const policies = await sessionPolicies(ctx, role.accountId, input.Policy, input.PolicyArns);
  const out = await issue(ctx, role, input.RoleSessionName, seconds, p.arn, {
    ...(policies.policy !== undefined ? { policy: policies.policy } : {}),
    ...(policies.policyArns !== undefined ? { policyArns: policies.policyArns } : {}),
    tags,
    ...(input.SourceIdentity !== undefined ? { sourceIdentity: input.SourceIdentity } : {}),
  });
  return { ...out, ...(policies.packed !== undefined ? { PackedPolicySize: policies.packed } : {}), ...(input.SourceIdentity !== undefined ? { SourceIdentity: input.SourceIdentity } : {}) };
};

const assumeRoleWithWebIdentity: Op<'AssumeRoleWithWebIdentity'> = async (ctx, input) => {
  const target = parseRoleArn(input.RoleArn);
  const denied = new QueryException('AccessDenied', 'Not authorized to perform sts:AssumeRoleWithWebIdentity');
  let issuer: string;
  try {
    issuer = WebIdentityVerifier.claimedIssuer(input.WebIdentityToken);
  } catch (e) {
    if (e instanceof WebIdentityError) throw new QueryException(e.shape, e.message);
    throw e;
  }
  const provider = await ctx.deps.meta.iam.getOidcProvider(target.accountId, issuer);
  if (provider === undefined) throw new QueryException('InvalidIdentityTokenException', `No OpenIDConnect provider found in your account for https://${issuer}`);
  let identity;
  try {
    identity = await ctx.deps.webIdentity.verify(input.WebIdentityToken, provider);
  } catch (e) {
    if (e instanceof WebIdentityError) throw new QueryException(e.shape, e.message);
    throw e;
  }
  const role = await ctx.deps.meta.iam.get(target.accountId, 'role', target.name);
  if (role === undefined || role.trustPolicy === undefined || roleArn(role.accountId, role.path, role.name) !== input.RoleArn) throw denied;
  const providerArn = `arn:aws:iam::${target.accountId}:oidc-provider/${issuer}`;
  let trust;
  try {
    trust = parsePolicy(role.trustPolicy, 'trust');
  } catch {
    throw denied;
  }
  const values: Record<string, string | string[]> = {
    [`${issuer}:sub`]: identity.subject,
    [`${issuer}:aud`]: identity.audience,
    'aws:FederatedProvider': providerArn,
    'sts:RoleSessionName': input.RoleSessionName,
    'aws:SourceIp': ctx.facts.sourceIp ?? '',
    'aws:CurrentTime': new Date(ctx.now).toISOString(),
    'aws:EpochTime': String(Math.floor(ctx.now / 1000)),
  };
  const aud = identity.claims.aud;
  if (aud !== undefined) values[`${issuer}:oaud`] = aud;
  if (Array.isArray(identity.claims.amr)) values[`${issuer}:amr`] = identity.claims.amr.map(String);
  const r = evaluate({
    principal: { arn: providerArn, accountId: target.accountId, federated: providerArn },
    action: 'sts:AssumeRoleWithWebIdentity',
    resource: { arn: input.RoleArn, accountId: target.accountId },
    context: { values },
    identityPolicies: [],
    resourcePolicies: [{ name: 'the role trust policy', policy: trust }],
    resourcePolicyRequired: true,
  });
  if (!r.allowed) throw denied;
  const seconds = duration(input.DurationSeconds, role, false);
  const policies = await sessionPolicies(ctx, role.accountId, input.Policy, input.PolicyArns);
  const out = await issue(ctx, role, input.RoleSessionName, seconds, providerArn, {
    ...(policies.policy !== undefined ? { policy: policies.policy } : {}),
    ...(policies.policyArns !== undefined ? { policyArns: policies.policyArns } : {}),
  });
  return {
    ...out,
    SubjectFromWebIdentityToken: identity.subject,
    Provider: issuer,
    Audience: identity.audience,
    ...(policies.packed !== undefined ? { PackedPolicySize: policies.packed } : {}),
  };
};

const handlers: Record<string, QueryHandler> = {
  GetCallerIdentity: op(getCallerIdentity),
  AssumeRole: op(assumeRole),
  AssumeRoleWithWebIdentity: op(assumeRoleWithWebIdentity),
};

defineService({ name: 'sts', ...STS_META, handlers, unsigned: new Set(['AssumeRoleWithWebIdentity']) });

export const STS_HANDLERS: Readonly<Record<string, QueryHandler>> = handlers;
