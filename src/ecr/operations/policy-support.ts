// Validation of repository and registry policy documents at write time, in ECR's words: the
// document is parsed by the policy engine (src/auth/policy) and a refusal names the problem after
// ECR's own "Invalid repository policy provided".
import { conditionValues, evalPrincipal } from '../../auth/index.ts';
import { evaluate, parsePolicy, PolicySyntaxError, type Policy } from '../../auth/policy/index.ts';
import type { EcrContext } from '../context.ts';
import { EcrException } from '../errors.ts';

/** The most a policy text may hold, as modelled (RepositoryPolicyText, RegistryPolicyText). */
export const POLICY_TEXT_MAX = 10240;

function invalid(kind: 'repository' | 'registry', problem: string): EcrException {
  return new EcrException('InvalidParameterException', `Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid ${kind} policy provided: ${problem}'`);
}

function statementActions(policy: Policy): Array<{ index: number; action: string }> {
  const out: Array<{ index: number; action: string }> = [];
  policy.statements.forEach((s, index) => {
    for (const action of [...(s.action ?? []), ...(s.notAction ?? [])]) out.push({ index, action });
  });
  return out;
}

/**
 * A policy for a resource of ECR: a resource policy (Principal required) whose actions are ECR's
 * (`ecr:...` or `*`). `allowed`, when given, is the only actions (and `ecr:*`, `*`) it may name.
 */
export function validateEcrResourcePolicy(kind: 'repository' | 'registry', text: string, allowed?: readonly string[]): Policy {
  if (text.trim() === '') throw invalid(kind, 'the policy text is empty');
  let policy: Policy;
  try {
    policy = parsePolicy(text, 'resource', { maxLength: POLICY_TEXT_MAX });
  } catch (e) {
    if (e instanceof PolicySyntaxError) throw invalid(kind, e.message);
    throw e;
  }
  for (const { index, action } of statementActions(policy)) {
    const a = action.toLowerCase();
    if (a !== '*' && !a.startsWith('ecr:')) throw invalid(kind, `Statement[${index}]: ${action} is not an action of Amazon ECR`);
    if (allowed !== undefined && a !== '*' && a !== 'ecr:*' && !allowed.some((x) => x.toLowerCase() === a)) {
      throw invalid(kind, `Statement[${index}]: ${action} cannot be granted by a registry policy of scope V1 (only ${allowed.join(', ')}); switch REGISTRY_POLICY_SCOPE to V2 with PutAccountSetting for every action`);
    }
  }
  return policy;
}

/** True when `policy`, as the resource's policy, explicitly denies the caller `action` on `resourceArn`. */
export function deniesCaller(ctx: EcrContext, policy: Policy, action: string, resourceArn: string): boolean {
  const r = evaluate({
    principal: evalPrincipal(ctx.principal),
    action,
    resource: { arn: resourceArn, accountId: ctx.accountId },
    context: { values: conditionValues(ctx.principal, ctx.facts) },
    identityPolicies: [],
    resourcePolicies: [{ name: 'the new policy', policy }],
  });
  return r.decision === 'ExplicitDeny';
}

export function repositoryPolicyNotFound(accountId: string, name: string): EcrException {
  return new EcrException('RepositoryPolicyNotFoundException', `Repository policy does not exist for the repository with name '${name}' in the registry with id '${accountId}'`);
}

export function registryPolicyNotFound(accountId: string): EcrException {
  return new EcrException('RegistryPolicyNotFoundException', `Registry policy does not exist in the registry with id '${accountId}'`);
}
