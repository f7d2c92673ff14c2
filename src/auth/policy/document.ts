// IAM policy documents: parsed and validated as AWS validates them when a policy is written, into a
// normalised form the evaluator reads (every element an array, condition values strings, account
// ids in principals as root ARNs).

export type PolicyKind = 'identity' | 'resource' | 'trust' | 'session';

/** A document AWS would refuse; the message names the statement and the problem. */
export class PolicySyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicySyntaxError';
  }
}

export type PrincipalSpec = '*' | { AWS?: string[]; Service?: string[]; Federated?: string[]; CanonicalUser?: string[] };

export interface Condition {
  /** As written: `StringLike`, `ForAnyValue:StringEqualsIgnoreCase`, `DateGreaterThanIfExists`... */
  operator: string;
  key: string;
  values: string[];
}

export interface Statement {
  sid?: string;
  effect: 'Allow' | 'Deny';
  action?: string[];
  notAction?: string[];
  resource?: string[];
  notResource?: string[];
  principal?: PrincipalSpec;
  notPrincipal?: PrincipalSpec;
  condition?: Condition[];
}

export interface Policy {
  version: '2012-10-17' | '2008-10-17';
  id?: string;
  statements: Statement[];
}

const STATEMENT_KEYS = new Set(['Sid', 'Effect', 'Action', 'NotAction', 'Resource', 'NotResource', 'Principal', 'NotPrincipal', 'Condition']);
const BASE_OPERATORS = new Set([
  'StringEquals', 'StringNotEquals', 'StringEqualsIgnoreCase', 'StringNotEqualsIgnoreCase', 'StringLike', 'StringNotLike',
  'NumericEquals', 'NumericNotEquals', 'NumericLessThan', 'NumericLessThanEquals', 'NumericGreaterThan', 'NumericGreaterThanEquals',
  'DateEquals', 'DateNotEquals', 'DateLessThan', 'DateLessThanEquals', 'DateGreaterThan', 'DateGreaterThanEquals',
  'Bool', 'BinaryEquals', 'IpAddress', 'NotIpAddress', 'ArnEquals', 'ArnLike', 'ArnNotEquals', 'ArnNotLike',
]);
const ACTION = /^(\*|[a-zA-Z0-9-]+:[a-zA-Z0-9*?]+)$/;
const ACCOUNT_ID = /^\d{12}$/;
const PRINCIPAL_TYPES = ['AWS', 'Service', 'Federated', 'CanonicalUser'] as const;

/** The operator without its set prefix and IfExists suffix, and what those say. */
export function splitOperator(op: string): { base: string; set?: 'ForAnyValue' | 'ForAllValues'; ifExists: boolean } {
  let rest = op;
  let set: 'ForAnyValue' | 'ForAllValues' | undefined;
  for (const p of ['ForAnyValue', 'ForAllValues'] as const) {
    if (rest.startsWith(`${p}:`)) {
      set = p;
      rest = rest.slice(p.length + 1);
    }
  }
  const ifExists = rest !== 'Null' && rest.endsWith('IfExists');
  if (ifExists) rest = rest.slice(0, -'IfExists'.length);
  return { base: rest, ...(set !== undefined ? { set } : {}), ifExists };
}

export function isKnownOperator(op: string): boolean {
  if (op === 'Null') return true;
  const { base } = splitOperator(op);
  return BASE_OPERATORS.has(base);
}

function strings(v: unknown, where: string): string[] {
  const list = Array.isArray(v) ? (v as unknown[]) : [v];
  if (list.length === 0) throw new PolicySyntaxError(`${where} must not be empty`);
  return list.map((x) => {
    if (typeof x !== 'string') throw new PolicySyntaxError(`${where} must be a string or an array of strings`);
    return x;
  });
}

function principal(v: unknown, where: string): PrincipalSpec {
  if (v === '*') return '*';
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new PolicySyntaxError(`${where} must be "*" or an object of AWS, Service, Federated or CanonicalUser`);
  const out: Exclude<PrincipalSpec, '*'> = {};
  for (const [k, raw] of Object.entries(v as Record<string, unknown>)) {
    if (!(PRINCIPAL_TYPES as readonly string[]).includes(k)) throw new PolicySyntaxError(`${where} has an unknown principal type ${k}`);
    const list = strings(raw, `${where}.${k}`);
    if (k === 'AWS') {
      out.AWS = list.map((p) => {
        if (p === '*') return p;
        if (ACCOUNT_ID.test(p)) return `arn:aws:iam::${p}:root`;
        if (!/^arn:aws:(iam|sts)::(\d{12}|aws):[^\s]+$/.test(p)) throw new PolicySyntaxError(`${where}.AWS has an invalid principal ${p.slice(0, 200)}`);
        return p;
      });
    } else {
      out[k as 'Service' | 'Federated' | 'CanonicalUser'] = list;
    }
  }
  if (Object.keys(out).length === 0) throw new PolicySyntaxError(`${where} names no principal`);
  return out;
}

function conditions(v: unknown, where: string): Condition[] {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new PolicySyntaxError(`${where} must be an object of condition operators`);
  const out: Condition[] = [];
  for (const [operator, block] of Object.entries(v as Record<string, unknown>)) {
    if (!isKnownOperator(operator)) throw new PolicySyntaxError(`${where}: unknown condition operator ${operator.slice(0, 100)}`);
    if (typeof block !== 'object' || block === null || Array.isArray(block)) throw new PolicySyntaxError(`${where}.${operator} must be an object of condition keys`);
    for (const [key, raw] of Object.entries(block as Record<string, unknown>)) {
      const list = Array.isArray(raw) ? (raw as unknown[]) : [raw];
      if (list.length === 0) throw new PolicySyntaxError(`${where}.${operator}.${key} must have a value`);
      const values = list.map((x) => {
        if (typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean') return String(x);
        throw new PolicySyntaxError(`${where}.${operator}.${key} values must be strings, numbers or booleans`);
      });
      out.push({ operator, key, values });
    }
  }
  return out;
}

function statement(raw: unknown, index: number, kind: PolicyKind): Statement {
  const where = `Statement[${index}]`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new PolicySyntaxError(`${where} must be an object`);
  const s = raw as Record<string, unknown>;
  for (const k of Object.keys(s)) if (!STATEMENT_KEYS.has(k)) throw new PolicySyntaxError(`${where} has an unknown element ${k.slice(0, 100)}`);
  if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw new PolicySyntaxError(`${where}: Effect must be Allow or Deny`);
  const out: Statement = { effect: s.Effect };
  if (s.Sid !== undefined) {
    if (typeof s.Sid !== 'string') throw new PolicySyntaxError(`${where}: Sid must be a string`);
    out.sid = s.Sid;
  }
  if ((s.Action === undefined) === (s.NotAction === undefined)) throw new PolicySyntaxError(`${where} must have exactly one of Action and NotAction`);
  for (const [k, field] of [['Action', 'action'], ['NotAction', 'notAction']] as const) {
    if (s[k] === undefined) continue;
    const list = strings(s[k], `${where}.${k}`);
    for (const a of list) if (!ACTION.test(a)) throw new PolicySyntaxError(`${where}.${k}: ${a.slice(0, 200)} is not an action (service:Action, wildcards allowed)`);
    out[field] = list;
  }
  if (s.Resource !== undefined && s.NotResource !== undefined) throw new PolicySyntaxError(`${where} must not have both Resource and NotResource`);
  if ((kind === 'identity' || kind === 'session') && s.Resource === undefined && s.NotResource === undefined) throw new PolicySyntaxError(`${where} must have Resource or NotResource`);
  if (s.Resource !== undefined) out.resource = strings(s.Resource, `${where}.Resource`);
  if (s.NotResource !== undefined) out.notResource = strings(s.NotResource, `${where}.NotResource`);
  for (const list of [out.resource, out.notResource]) {
    for (const r of list ?? []) if (r !== '*' && !r.startsWith('arn:')) throw new PolicySyntaxError(`${where}: ${r.slice(0, 200)} is not a resource ARN`);
  }
  const hasPrincipal = s.Principal !== undefined || s.NotPrincipal !== undefined;
  if (kind === 'identity' || kind === 'session') {
    if (hasPrincipal) throw new PolicySyntaxError(`${where}: an identity-based policy cannot name a Principal`);
  } else {
    if (s.Principal !== undefined && s.NotPrincipal !== undefined) throw new PolicySyntaxError(`${where} must not have both Principal and NotPrincipal`);
    if (!hasPrincipal) throw new PolicySyntaxError(`${where} must have a Principal`);
    if (s.Principal !== undefined) out.principal = principal(s.Principal, `${where}.Principal`);
    if (s.NotPrincipal !== undefined) out.notPrincipal = principal(s.NotPrincipal, `${where}.NotPrincipal`);
  }
  if (s.Condition !== undefined) out.condition = conditions(s.Condition, `${where}.Condition`);
  return out;
}

/** Parses and validates a policy document; throws PolicySyntaxError naming the first problem. */
export function parsePolicy(text: string, kind: PolicyKind, opts: { maxLength?: number } = {}): Policy {
  if (opts.maxLength !== undefined && text.length > opts.maxLength) throw new PolicySyntaxError(`the policy has ${text.length} characters, more than the ${opts.maxLength} allowed`);
  let doc: unknown;
  try {
    doc = JSON.parse(text) as unknown;
  } catch (e) {
    throw new PolicySyntaxError(`the policy is not valid JSON (${(e as Error).message})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new PolicySyntaxError('the policy must be a JSON object');
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d)) if (k !== 'Version' && k !== 'Id' && k !== 'Statement') throw new PolicySyntaxError(`the policy has an unknown element ${k.slice(0, 100)}`);
  const version = d.Version ?? '2008-10-17';
  if (version !== '2012-10-17' && version !== '2008-10-17') throw new PolicySyntaxError(`Version must be 2012-10-17 or 2008-10-17, not ${JSON.stringify(version).slice(0, 50)}`);
  if (d.Id !== undefined && typeof d.Id !== 'string') throw new PolicySyntaxError('Id must be a string');
  if (d.Statement === undefined) throw new PolicySyntaxError('the policy has no Statement');
  const raw = Array.isArray(d.Statement) ? (d.Statement as unknown[]) : [d.Statement];
  if (raw.length === 0) throw new PolicySyntaxError('Statement must not be empty');
  const statements = raw.map((s, i) => statement(s, i, kind));
  const sids = new Set<string>();
  statements.forEach((s, i) => {
    if (s.sid === undefined) return;
    if (sids.has(s.sid)) throw new PolicySyntaxError(`Statement[${i}]: the Sid ${s.sid.slice(0, 100)} is used twice`);
    sids.add(s.sid);
  });
  return { version, ...(typeof d.Id === 'string' ? { id: d.Id } : {}), statements };
}
