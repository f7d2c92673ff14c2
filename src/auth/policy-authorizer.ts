// The Authorizer of berth: AWS's policy evaluation (src/auth/policy) over the policies that apply to
// a request: the repository's policy, the registry policy (for every ECR action with the V2 scope,
// for replication, imports and repository creation with V1), and the caller's identity policies.
// An account's root user is not governed by identity policies: it may do anything in its own
// account unless a resource policy denies it, and another account's resources when their policies
// grant it (the identity side of a cross-account request is then the root's, which allows all).
import { createHash } from 'node:crypto';
import { ACCOUNT_SETTINGS } from '../core/account-settings.ts';
import type { MetaStore } from '../meta/index.ts';
import type { Authorizer, Decision, RequestFacts, Resource } from './authorizer.ts';
import { evaluate, managedPolicy, parsePolicy, type EvalPrincipal, type NamedPolicy, type PolicyKind, type Policy } from './policy/index.ts';
import { roleArn, type Principal } from './principal.ts';

/** The actions a registry policy of scope V1 governs (ECR's user guide, "Private registry permissions"). */
export const REGISTRY_POLICY_V1_ACTIONS: readonly string[] = ['ecr:ReplicateImage', 'ecr:BatchImportUpstreamImage', 'ecr:CreateRepository'];
const V1_ACTIONS = new Set(REGISTRY_POLICY_V1_ACTIONS.map((a) => a.toLowerCase()));
const REPOSITORY_ARN = /^arn:aws:ecr:[^:]*:(\d{12}):repository\/(.+)$/;

/** What the authorizer knows of the caller's IAM entity beyond its credentials. */
export interface CallerIdentity {
  /** aws:userid: the account id (root), the user's AIDA... id, or `<role id>:<session name>`. */
  userId?: string;
  /** aws:PrincipalTag/<key>: the user's or role's tags, a session's own tags over its role's. */
  tags?: ReadonlyArray<{ Key: string; Value: string }>;
}

/** The condition keys a request carries by itself: who sends it, from where, when, what it tags. */
export function conditionValues(principal: Principal | null, facts: RequestFacts, caller: CallerIdentity = {}): Record<string, string | string[] | undefined> {
  const values: Record<string, string | string[] | undefined> = {
    ...facts.values,
    'aws:SourceIp': facts.sourceIp,
    'aws:SecureTransport': facts.secureTransport === undefined ? undefined : String(facts.secureTransport),
    'aws:CurrentTime': new Date().toISOString(),
    'aws:EpochTime': String(Math.floor(Date.now() / 1000)),
  };
  if (facts.requestTags !== undefined) {
    values['aws:TagKeys'] = Object.keys(facts.requestTags);
    for (const [k, v] of Object.entries(facts.requestTags)) values[`aws:RequestTag/${k}`] = v;
  }
  if (principal !== null) {
    const s = principal.session;
    values['aws:PrincipalArn'] = s !== undefined ? roleArn(principal.accountId, s.rolePath, s.roleName) : principal.arn;
    values['aws:PrincipalAccount'] = principal.accountId;
    values['aws:PrincipalType'] = principal.kind === 'root' ? 'Account' : principal.kind === 'assumed-role' ? 'AssumedRole' : 'User';
    if (principal.kind === 'user') values['aws:username'] = principal.userName;
    values['aws:userid'] = principal.kind === 'root' ? principal.accountId : s !== undefined ? `${s.roleId}:${s.sessionName}` : caller.userId;
    if (s?.federated !== undefined) values['aws:FederatedProvider'] = s.federated;
    for (const t of caller.tags ?? []) values[`aws:PrincipalTag/${t.Key}`] = t.Value;
  }
  return values;
}

/** The caller as the evaluator sees it (null: anonymous). */
export function evalPrincipal(principal: Principal | null): EvalPrincipal {
  if (principal === null) return { arn: '*', accountId: '', anonymous: true };
  const s = principal.session;
  return { arn: principal.arn, accountId: principal.accountId, isRoot: principal.kind === 'root', ...(s !== undefined ? { roleArn: roleArn(principal.accountId, s.rolePath, s.roleName) } : {}) };
}

/** What `read` returns, read once per request when the facts carry a memo. */
async function memoized<T>(facts: RequestFacts, key: string, read: () => Promise<T>): Promise<T> {
  if (facts.memo === undefined) return await read();
  let p = facts.memo.get(key) as Promise<T> | undefined;
  if (p === undefined) {
    p = read();
    facts.memo.set(key, p);
  }
  return await p;
}

export interface PolicyAuthorizerDeps {
  meta: MetaStore;
}

export class PolicyAuthorizer implements Authorizer {
  private readonly meta: MetaStore;
  /** Parsed documents by the hash of their text: policies change rarely and parse once. */
  private readonly parsed = new Map<string, Policy>();

  constructor(deps: PolicyAuthorizerDeps) {
    this.meta = deps.meta;
  }

  private parse(text: string, kind: PolicyKind = 'resource'): Policy | undefined {
    const key = `${kind}:${createHash('sha256').update(text).digest('base64')}`;
    let p = this.parsed.get(key);
    if (p === undefined) {
      try {
        p = parsePolicy(text, kind);
      } catch {
        // Stored documents were validated when written; one that no longer parses grants nothing.
        return undefined;
      }
      if (this.parsed.size >= 1000) this.parsed.clear();
      this.parsed.set(key, p);
    }
    return p;
  }

  private async resourcePolicies(action: string, resource: Resource, facts: RequestFacts): Promise<{ policies: Array<{ name: string; policy: Policy }>; repositoryId?: number }> {
    const out: Array<{ name: string; policy: Policy }> = [];
    if (facts.resourcePolicy !== undefined) {
      const policy = this.parse(facts.resourcePolicy.document);
      return { policies: policy === undefined ? [] : [{ name: facts.resourcePolicy.name, policy }] };
    }
    // The registry and repository policies govern ECR's actions only.
    if (!action.toLowerCase().startsWith('ecr:')) return { policies: [] };
    let repositoryId: number | undefined;
    const m = REPOSITORY_ARN.exec(resource.arn);
    if (m !== null && m[2] !== undefined && m[2] !== '*') {
      const name = m[2];
      const { id, text } = await memoized(facts, `repository ${resource.accountId} ${name}`, async () => {
        const repo = await this.meta.repositories.get(resource.accountId, name);
        return { id: repo?.id, text: repo === undefined ? undefined : await this.meta.repositories.policyText(repo.id, 'repository') };
      });
      repositoryId = id;
      const policy = text === undefined ? undefined : this.parse(text);
      if (policy !== undefined) out.push({ name: 'the repository policy', policy });
    }
    const { registryText, scope } = await memoized(facts, `registry ${resource.accountId}`, async () => {
      const text = await this.meta.accountPolicies.get(resource.accountId, 'registry');
      return { registryText: text, scope: text === undefined ? undefined : ((await this.meta.accountSettings.get(resource.accountId, 'REGISTRY_POLICY_SCOPE')) ?? ACCOUNT_SETTINGS.REGISTRY_POLICY_SCOPE.default) };
    });
    if (registryText !== undefined) {
      const policy = this.parse(registryText);
      if (policy !== undefined && (scope === 'V2' || V1_ACTIONS.has(action.toLowerCase()))) out.push({ name: 'the registry policy', policy });
    }
    return { policies: out, ...(repositoryId !== undefined ? { repositoryId } : {}) };
  }

  /** aws:ResourceTag/<key> and ecr:ResourceTag/<key> of the repository, read only when a policy asks for them. */
  private async resourceTags(repositoryId: number | undefined, policies: ReadonlyArray<{ policy: Policy }>): Promise<Record<string, string>> {
    const asks = policies.some(({ policy }) => policy.statements.some((s) => s.condition?.some((c) => /resourcetag\//i.test(c.key) || c.values.some((v) => /resourcetag\//i.test(v)))));
    if (repositoryId === undefined || !asks) return {};
    const out: Record<string, string> = {};
    for (const { key, value } of await this.meta.repositories.tags(repositoryId)) {
      out[`aws:ResourceTag/${key}`] = value;
      out[`ecr:ResourceTag/${key}`] = value;
    }
    return out;
  }

  /** A managed policy's text: the account's own or AWS's published one. */
  private async managedText(accountId: string, arn: string): Promise<string | undefined> {
    return (await this.meta.iam.policyByArn(accountId, arn))?.document ?? managedPolicy(arn)?.document;
  }

  /**
   * The caller's identity policies and what conditions know of it: an IAM user's own and its
   * groups' policies (inline and attached), an assumed role's policies (none once the role is
   * deleted or replaced by one of the same name) with the session's policies, which limit them.
   */
  async identity(principal: Principal | null): Promise<{ caller: CallerIdentity; policies: NamedPolicy[]; sessionPolicies?: NamedPolicy[] }> {
    if (principal === null || principal.kind === 'root') return { caller: {}, policies: [] };
    const s = principal.session;
    const kind = s !== undefined ? 'role' : 'user';
    const name = s !== undefined ? s.roleName : principal.userName;
    const entity = await this.meta.iam.get(principal.accountId, kind, name);
    if (entity === undefined || (s !== undefined && entity.id !== s.roleId)) return { caller: {}, policies: [], ...(s !== undefined ? { sessionPolicies: [] } : {}) };
    const policies: NamedPolicy[] = [];
    for (const a of await this.meta.iam.applied(principal.accountId, kind, name)) {
      const text = a.document ?? (a.arn !== undefined ? managedPolicy(a.arn)?.document : undefined);
      const policy = text === undefined ? undefined : this.parse(text, 'identity');
      if (policy !== undefined) policies.push({ name: a.source, policy });
    }
    const tags = new Map(entity.tags.map((t) => [t.Key.toLowerCase(), t]));
    for (const t of s?.tags ?? []) tags.set(t.Key.toLowerCase(), t);
    const caller: CallerIdentity = { userId: entity.id, tags: [...tags.values()] };
    if (s === undefined || (s.sessionPolicy === undefined && s.policyArns === undefined)) return { caller, policies };
    // Session policies: what the session may do is what both they and the role's policies allow.
    const sessionPolicies: NamedPolicy[] = [];
    const inline = s.sessionPolicy === undefined ? undefined : this.parse(s.sessionPolicy, 'identity');
    if (inline !== undefined) sessionPolicies.push({ name: 'the session policy', policy: inline });
    for (const arn of s.policyArns ?? []) {
      const text = await this.managedText(principal.accountId, arn);
      const policy = text === undefined ? undefined : this.parse(text, 'identity');
      if (policy !== undefined) sessionPolicies.push({ name: `the session policy ${arn}`, policy });
    }
    return { caller, policies, sessionPolicies };
  }

  async authorize(principal: Principal | null, action: string, resource: Resource, facts: RequestFacts = {}): Promise<Decision> {
    const { policies: resourcePolicies, repositoryId } = await this.resourcePolicies(action, resource, facts);
    const id = await memoized(facts, `identity ${principal?.accessKeyId ?? ''}`, async () => await this.identity(principal));
    const values = { ...(await this.resourceTags(repositoryId, resourcePolicies)), ...conditionValues(principal, facts, id.caller) };
    const r = evaluate({
      principal: evalPrincipal(principal),
      action,
      resource,
      context: { values },
      // A root user is governed by no identity policy (the evaluator grants it its own account).
      identityPolicies: id.policies,
      resourcePolicies,
      ...(id.sessionPolicies !== undefined ? { sessionPolicies: id.sessionPolicies } : {}),
      ...(facts.resourcePolicy?.required === true ? { resourcePolicyRequired: true } : {}),
    });
    return { allowed: r.allowed, reason: r.reason };
  }
}
