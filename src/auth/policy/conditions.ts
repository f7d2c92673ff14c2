// Condition operators as the IAM user guide defines them: keys ANDed, operators ANDed, values of a
// key ORed (a negated operator matches when no value does); a missing key fails an operator unless
// it is negated, ends in IfExists, or is Null; ForAnyValue / ForAllValues compare sets of values.
import { BlockList, isIP } from 'node:net';
import { splitOperator, type Condition } from './document.ts';

export interface RequestContext {
  /** Condition keys of the request (names are case-insensitive); absent keys are undefined or missing. */
  values: Record<string, string | string[] | undefined>;
}

/** The value of a key, its name matched case-insensitively. */
export function contextValue(ctx: RequestContext, key: string): string[] | undefined {
  const lower = key.toLowerCase();
  for (const [k, v] of Object.entries(ctx.values)) {
    if (k.toLowerCase() !== lower || v === undefined) continue;
    return Array.isArray(v) ? v : [v];
  }
  return undefined;
}

/** `*` and `?` wildcards; everything else literal. */
export function globToRegExp(pattern: string, ignoreCase = false): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, ignoreCase ? 'is' : 's');
}

/**
 * Replaces policy variables (`${aws:username}`, `${aws:PrincipalTag/team}`, `${key, 'default'}`, and
 * the escapes `${*}`, `${?}`, `${$}`) from the context; undefined when a variable has no value.
 */
export function substituteVariables(text: string, ctx: RequestContext): string | undefined {
  if (!text.includes('${')) return text;
  let missing = false;
  const out = text.replace(/\$\{([^}]*)\}/g, (_m, inner: string) => {
    const body = inner.trim();
    if (body === '*' || body === '?' || body === '$') return body;
    const d = /^([^,]+?)\s*,\s*'([^']*)'$/.exec(body);
    const key = d?.[1] ?? body;
    const v = contextValue(ctx, key);
    if (v !== undefined && v.length === 1 && v[0] !== undefined) return v[0];
    if (d?.[2] !== undefined) return d[2];
    missing = true;
    return '';
  });
  return missing ? undefined : out;
}

type Compare = (policyValue: string, requestValue: string) => boolean;

function num(s: string): number | undefined {
  const n = Number(s);
  return s.trim() === '' || Number.isNaN(n) ? undefined : n;
}

function date(s: string): number | undefined {
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
}

function numeric(f: (a: number, b: number) => boolean, parse: (s: string) => number | undefined): Compare {
  return (p, r) => {
    const a = parse(r);
    const b = parse(p);
    return a !== undefined && b !== undefined && f(a, b);
  };
}

function cidr(p: string, r: string): boolean {
  const [addr, bits] = p.split('/');
  const family = addr === undefined ? 0 : isIP(addr);
  const rf = isIP(r);
  if (family === 0 || rf === 0 || addr === undefined) return false;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  const list = new BlockList();
  list.addSubnet(addr, bits === undefined ? (family === 4 ? 32 : 128) : Number(bits), type);
  return list.check(r, rf === 4 ? 'ipv4' : 'ipv6');
}

/** ARNs compared part by part (partition, service, region, account, resource), wildcards in each. */
function arnLike(p: string, r: string): boolean {
  const pp = p.split(':');
  const rp = r.split(':');
  if (pp.length < 6 || rp.length < 6) return globToRegExp(p).test(r);
  const head = (a: string[]): string[] => [...a.slice(0, 5), a.slice(5).join(':')];
  const ph = head(pp);
  const rh = head(rp);
  return ph.every((x, i) => globToRegExp(x).test(rh[i] ?? ''));
}

/** Each base operator: how one policy value compares with one request value, and whether it is negated. */
const OPERATORS: Record<string, { cmp: Compare; negated: boolean }> = {
  StringEquals: { cmp: (p, r) => p === r, negated: false },
  StringNotEquals: { cmp: (p, r) => p === r, negated: true },
  StringEqualsIgnoreCase: { cmp: (p, r) => p.toLowerCase() === r.toLowerCase(), negated: false },
  StringNotEqualsIgnoreCase: { cmp: (p, r) => p.toLowerCase() === r.toLowerCase(), negated: true },
  StringLike: { cmp: (p, r) => globToRegExp(p).test(r), negated: false },
  StringNotLike: { cmp: (p, r) => globToRegExp(p).test(r), negated: true },
  NumericEquals: { cmp: numeric((a, b) => a === b, num), negated: false },
  NumericNotEquals: { cmp: numeric((a, b) => a === b, num), negated: true },
  NumericLessThan: { cmp: numeric((a, b) => a < b, num), negated: false },
  NumericLessThanEquals: { cmp: numeric((a, b) => a <= b, num), negated: false },
  NumericGreaterThan: { cmp: numeric((a, b) => a > b, num), negated: false },
  NumericGreaterThanEquals: { cmp: numeric((a, b) => a >= b, num), negated: false },
  DateEquals: { cmp: numeric((a, b) => a === b, date), negated: false },
  DateNotEquals: { cmp: numeric((a, b) => a === b, date), negated: true },
  DateLessThan: { cmp: numeric((a, b) => a < b, date), negated: false },
  DateLessThanEquals: { cmp: numeric((a, b) => a <= b, date), negated: false },
  DateGreaterThan: { cmp: numeric((a, b) => a > b, date), negated: false },
  DateGreaterThanEquals: { cmp: numeric((a, b) => a >= b, date), negated: false },
  Bool: { cmp: (p, r) => p.toLowerCase() === r.toLowerCase(), negated: false },
  BinaryEquals: { cmp: (p, r) => p === r, negated: false },
  IpAddress: { cmp: cidr, negated: false },
  NotIpAddress: { cmp: cidr, negated: true },
  ArnEquals: { cmp: arnLike, negated: false },
  ArnLike: { cmp: arnLike, negated: false },
  ArnNotEquals: { cmp: arnLike, negated: true },
  ArnNotLike: { cmp: arnLike, negated: true },
};

/** One condition (one operator, one key) against the request. */
export function evaluateCondition(c: Condition, ctx: RequestContext): boolean {
  const request = contextValue(ctx, c.key);
  if (c.operator === 'Null') {
    const absent = request === undefined || request.length === 0;
    return c.values.some((v) => (v.toLowerCase() === 'true' ? absent : !absent));
  }
  const { base, set, ifExists } = splitOperator(c.operator);
  const op = OPERATORS[base];
  if (op === undefined) return false;
  const policyValues = c.values.map((v) => substituteVariables(v, ctx)).filter((v): v is string => v !== undefined);
  // One request value: does it satisfy the operator (for a negated one, match none of the values)?
  const holds = (r: string): boolean => {
    const any = policyValues.some((p) => op.cmp(p, r));
    return op.negated ? !any : any;
  };
  if (set === 'ForAllValues') return request === undefined || request.every(holds);
  if (set === 'ForAnyValue') return request !== undefined && request.some(holds);
  if (request === undefined || request.length === 0) return ifExists || op.negated;
  return op.negated ? request.every(holds) : request.some(holds);
}

/** Every condition of a statement holds. */
export function evaluateConditions(block: readonly Condition[], ctx: RequestContext): boolean {
  return block.every((c) => evaluateCondition(c, ctx));
}
