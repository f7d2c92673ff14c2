// The IAM policy engine: documents, conditions, evaluation, and AWS's managed policies of ECR.
export { parsePolicy, PolicySyntaxError, isKnownOperator, type Policy, type PolicyKind, type Statement, type Condition, type PrincipalSpec } from './document.ts';
export { evaluateCondition, evaluateConditions, substituteVariables, type RequestContext } from './conditions.ts';
export { evaluate, type EvalRequest, type EvalResult, type EvalPrincipal, type NamedPolicy } from './evaluate.ts';
export { MANAGED_POLICIES, managedPolicy, type ManagedPolicy } from './managed.ts';
