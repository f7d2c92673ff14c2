// The Authorizer of berth: AWS's policy evaluation (src/auth/policy) over the policies that apply to
// a request: the repository's policy, the registry policy (for every ECR action with the V2 scope,
// for replication, imports and repository creation with V1), and the caller's identity policies.
// An account's root user is not governed by identity policies: it may do anything in its own
// account unless a resource policy denies it, and another account's resources when their policies
// grant it (the identity side of a cross-account request is then the root's, which allows all).
import { createHash } from 'node:crypto';
import type { MetaStore } from '../meta/index.ts';
import type { Authorizer, Decision, RequestFacts, Resource } from './authorizer.ts';
import { evaluate, managedPolicy, parsePolicy, type EvalPrincipal, type PolicyKind, type Policy } from './policy/index.ts';
import type { Principal } from './principal.ts';

/** The actions a registry policy of scope V1 governs (ECR's user guide, "Private registry permissions"). */
export const REGISTRY_POLICY_V1_ACTIONS: readonly string[] = ['ecr:ReplicateImage', 'ecr:BatchImportUpstreamImage', 'ecr:CreateRepository'];
const V1_ACTIONS = new Set(REGISTRY_POLICY_V1_ACTIONS.map((a) => a.toLowerCase()));
const REPOSITORY_ARN = /^arn:aws:ecr:[^:]*:(\d{12}):repository\/(.+)$/;

/** The condition keys a request carries by itself: who sends it, from where, when. */
export function conditionValues(principal: Principal | null, facts: RequestFacts): Record<string, string | undefined> {
  const values: Record<string, string | undefined> = {
    'aws:SourceIp': facts.sourceIp,
    'aws:SecureTransport': facts.secureTransport === undefined ? undefined : String(facts.secureTransport),
    'aws:CurrentTime': new Date().toISOString(),
    'aws:EpochTime': String(Math.floor(Date.now() / 1000)),
  };
  if (principal !== null) {
    values['aws:PrincipalArn'] = principal.arn;
    values['aws:PrincipalAccount'] = principal.accountId;
    values['aws:PrincipalType'] = principal.kind === 'root' ? 'Account' : 'User';
    if (principal.kind === 'user') values['aws:username'] = principal.userName;
  }
  return values;
}

/** The caller as the evaluator sees it (null: anonymous). */
export function evalPrincipal(principal: Principal | null): EvalPrincipal {
  return principal === null ? { arn: '*', accountId: '', anonymous: true } : { arn: principal.arn, accountId: principal.accountId, isRoot: principal.kind === 'root' };
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

  private async resourcePolicies(action: string, resource: Resource): Promise<{ policies: Array<{ name: string; policy: Policy }>; repositoryId?: number }> {
    const out: Array<{ name: string; policy: Policy }> = [];
    let repositoryId: number | undefined;
    const m = REPOSITORY_ARN.exec(resource.arn);
    if (m !== null && m[2] !== undefined && m[2] !== '*') {
      const repo = await this.meta.repositories.get(resource.accountId, m[2]);
      repositoryId = repo?.id;
      const text = repo === undefined ? undefined : await this.meta.repositories.policyText(repo.id, 'repository');
      const policy = text === undefined ? undefined : this.parse(text);
      if (policy !== undefined) out.push({ name: 'the repository policy', policy });
    }
    const registryText = await this.meta.accountPolicies.get(resource.accountId, 'registry');
    if (registryText !== undefined) {
      const scope = (await this.meta.accountSettings.get(resource.accountId, 'REGISTRY_POLICY_SCOPE')) ?? 'V2';
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

  /** The identity policies of an IAM user: its own and its groups', inline and attached (AWS managed ones by their published text). */
  private async identityPolicies(principal: Principal | null): Promise<Array<{ name: string; policy: Policy }>> {
    if (principal === null || principal.kind !== 'user') return [];
    const out: Array<{ name: string; policy: Policy }> = [];
    for (const a of await this.meta.iam.applied(principal.accountId, 'user', principal.userName)) {
      const text = a.document ?? (a.arn !== undefined ? managedPolicy(a.arn)?.document : undefined);
      const policy = text === undefined ? undefined : this.parse(text, 'identity');
      if (policy !== undefined) out.push({ name: a.source, policy });
    }
    return out;
  }

  async authorize(principal: Principal | null, action: string, resource: Resource, facts: RequestFacts = {}): Promise<Decision> {
    const { policies: resourcePolicies, repositoryId } = await this.resourcePolicies(action, resource);
    const values = { ...(await this.resourceTags(repositoryId, resourcePolicies)), ...conditionValues(principal, facts) };
    const r = evaluate({
      principal: evalPrincipal(principal),
      action,
      resource,
      context: { values },
      // A root user is governed by no identity policy (the evaluator grants it its own account).
      identityPolicies: await this.identityPolicies(principal),
      resourcePolicies,
    });
    return { allowed: r.allowed, reason: r.reason };
  }
}
