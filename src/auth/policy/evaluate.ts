// AWS's policy evaluation logic (IAM user guide: "Policy evaluation logic", "Cross-account policy
// evaluation logic"): an explicit deny anywhere wins; within an account an allow from the identity
// policies or from a resource policy naming the principal suffices; across accounts both the
// resource policy and the identity policies must allow; session policies and a permissions boundary
// limit what identity policies grant. The reason is phrased as AWS phrases its AccessDenied messages.
import { evaluateConditions, globToRegExp, substituteVariables, type RequestContext } from './conditions.ts';
import type { Policy, PrincipalSpec, Statement } from './document.ts';

export interface EvalPrincipal {
  /** `arn:aws:iam::111122223333:user/ci`, `...:root`, `arn:aws:sts::...:assumed-role/ROLE/SESSION`. */
  arn: string;
  accountId: string;
  /** The account's root user: not governed by identity policies. */
  isRoot?: boolean;
  /** For an assumed-role session, the role's ARN (a policy naming the role names its sessions). */
  roleArn?: string;
  service?: string;
  federated?: string;
  anonymous?: boolean;
}

export interface NamedPolicy {
  name: string;
  policy: Policy;
}

export interface EvalRequest {
  principal: EvalPrincipal;
  action: string;
  resource: { arn: string; accountId: string };
  context: RequestContext;
  identityPolicies: NamedPolicy[];
  resourcePolicies: NamedPolicy[];
  sessionPolicies?: NamedPolicy[];
  permissionsBoundary?: NamedPolicy;
  /**
   * The resource policy must allow even within the account: a role's trust policy, without which
   * no identity policy lets anyone assume the role.
   */
  resourcePolicyRequired?: boolean;
}

export interface EvalResult {
  decision: 'Allow' | 'ExplicitDeny' | 'ImplicitDeny';
  allowed: boolean;
  matched?: { policy: string; sid?: string; effect: 'Allow' | 'Deny' };
  reason: string;
}

type Kind = 'identity-based policy' | 'resource-based policy' | 'session policy' | 'permissions boundary';

/** How a statement's principal element matched: directly (the principal, `*`) or through its account. */
type PrincipalMatch = 'direct' | 'role' | 'account' | false;

function matchPrincipal(spec: PrincipalSpec, p: EvalPrincipal): PrincipalMatch {
  if (spec === '*') return 'direct';
  let best: PrincipalMatch = false;
  for (const a of spec.AWS ?? []) {
    if (a === '*') return 'direct';
    if (p.anonymous === true) continue;
    if (a === p.arn) return 'direct';
    if (p.roleArn !== undefined && a === p.roleArn) best = 'role';
    else if (best === false && a === `arn:aws:iam::${p.accountId}:root`) best = p.isRoot === true ? 'direct' : 'account';
  }
  if (p.service !== undefined && (spec.Service ?? []).includes(p.service)) return 'direct';
  if (p.federated !== undefined && (spec.Federated ?? []).includes(p.federated)) return 'direct';
  return best;
}

function matchesAny(patterns: readonly string[], value: string, ctx: RequestContext, ignoreCase: boolean, vars: boolean): boolean {
  return patterns.some((raw) => {
    const p = vars ? substituteVariables(raw, ctx) : raw;
    return p !== undefined && globToRegExp(p, ignoreCase).test(value);
  });
}

/** Whether the statement applies to the request, and how its principal matched (resource policies). */
function applies(s: Statement, req: EvalRequest, vars: boolean, resourcePolicy: boolean): PrincipalMatch {
  const ctx = req.context;
  if (s.action !== undefined && !matchesAny(s.action, req.action, ctx, true, false)) return false;
  if (s.notAction !== undefined && matchesAny(s.notAction, req.action, ctx, true, false)) return false;
  if (s.resource !== undefined && !matchesAny(s.resource, req.resource.arn, ctx, false, vars)) return false;
  if (s.notResource !== undefined && matchesAny(s.notResource, req.resource.arn, ctx, false, vars)) return false;
  let how: PrincipalMatch = 'direct';
  if (resourcePolicy) {
    if (s.principal !== undefined) how = matchPrincipal(s.principal, req.principal);
    else if (s.notPrincipal !== undefined) how = matchPrincipal(s.notPrincipal, req.principal) === false ? 'direct' : false;
    else how = false;
    if (how === false) return false;
  }
  if (s.condition !== undefined && !evaluateConditions(s.condition, ctx)) return false;
  return how;
}

interface Hit {
  policy: string;
  sid?: string;
  effect: 'Allow' | 'Deny';
  how: PrincipalMatch;
}

function hits(policies: readonly NamedPolicy[], req: EvalRequest, resourcePolicy: boolean): Hit[] {
  const out: Hit[] = [];
  for (const { name, policy } of policies) {
    const vars = policy.version === '2012-10-17';
    for (const s of policy.statements) {
      const how = applies(s, req, vars, resourcePolicy);
      if (how !== false) out.push({ policy: name, ...(s.sid !== undefined ? { sid: s.sid } : {}), effect: s.effect, how });
    }
  }
  return out;
}

export function evaluate(req: EvalRequest): EvalResult {
  const p = req.principal;
  const who = p.anonymous === true ? 'Anonymous users are' : `User: ${p.arn} is`;
  const base = `${who} not authorized to perform: ${req.action} on resource: ${req.resource.arn}`;
  const context: RequestContext = { values: { 'aws:PrincipalArn': p.anonymous === true ? undefined : (p.roleArn ?? p.arn), 'aws:PrincipalAccount': p.anonymous === true ? undefined : p.accountId, ...req.context.values } };
  const r: EvalRequest = { ...req, context };

  const identityPolicies = p.anonymous === true ? [] : r.identityPolicies;
  const layers: Array<[Kind, Hit[]]> = [
    ['identity-based policy', hits(identityPolicies, r, false)],
    ['resource-based policy', hits(r.resourcePolicies, r, true)],
    ['session policy', hits(r.sessionPolicies ?? [], r, false)],
    ['permissions boundary', hits(r.permissionsBoundary !== undefined ? [r.permissionsBoundary] : [], r, false)],
  ];
  for (const [kind, list] of layers) {
    const deny = list.find((h) => h.effect === 'Deny');
    if (deny !== undefined) {
      return { decision: 'ExplicitDeny', allowed: false, matched: { policy: deny.policy, ...(deny.sid !== undefined ? { sid: deny.sid } : {}), effect: 'Deny' }, reason: `${base} with an explicit deny in a${kind === 'identity-based policy' ? 'n' : ''} ${kind}` };
    }
  }
  const [identity, resource, session, boundary] = layers.map(([, l]) => l.filter((h) => h.effect === 'Allow')) as [Hit[], Hit[], Hit[], Hit[]];
  const allow = (h: Hit, why: string): EvalResult => ({ decision: 'Allow', allowed: true, matched: { policy: h.policy, ...(h.sid !== undefined ? { sid: h.sid } : {}), effect: 'Allow' }, reason: `allowed by ${h.policy}${h.sid !== undefined ? ` (statement ${h.sid})` : ''}${why}` });
  const implicit = (why: string): EvalResult => ({ decision: 'ImplicitDeny', allowed: false, reason: `${base} because no ${why} allows the ${req.action} action` });

  if (p.anonymous === true) {
    const h = resource.find((x) => x.how === 'direct');
    return h !== undefined ? allow(h, '') : implicit('resource-based policy');
  }
  const sameAccount = p.accountId === r.resource.accountId;
  const rootGrant: Hit | undefined = p.isRoot === true ? { policy: 'the root user', effect: 'Allow', how: 'direct' } : undefined;
  const identityAllow = rootGrant ?? identity[0];
  const sessionOk = r.sessionPolicies === undefined || session.length > 0;
  const boundaryOk = r.permissionsBoundary === undefined || boundary.length > 0;
  // A resource policy naming the principal itself (or everyone) grants without the identity side;
  // one naming the role of a session is still limited by the session's policies; one naming only
  // the account delegates to the account's identity policies.
  const direct = resource.find((h) => h.how === 'direct') ?? (sessionOk ? resource.find((h) => h.how === 'role') : undefined);
  const anyResource = resource[0];

  if (sameAccount) {
    if (direct !== undefined) return allow(direct, '');
    if (r.resourcePolicyRequired === true && anyResource === undefined) return implicit('resource-based policy');
    if (identityAllow === undefined) return implicit('identity-based policy');
    if (!sessionOk) return implicit('session policy');
    if (!boundaryOk) return implicit('permissions boundary');
    return allow(identityAllow, '');
  }
  if (anyResource === undefined) return implicit('resource-based policy');
  if (identityAllow === undefined) return implicit('identity-based policy');
  if (!sessionOk) return implicit('session policy');
  if (!boundaryOk) return implicit('permissions boundary');
  return allow(anyResource, ` and ${identityAllow.policy}`);
}
