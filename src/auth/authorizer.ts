// The Authorizer seam: (principal, action, resource) -> allow or deny, with the reason. berth's
// implementation is PolicyAuthorizer (policy-authorizer.ts), AWS's policy evaluation.
import type { Principal } from './principal.ts';

export interface Resource {
  arn: string;
  accountId: string;
}

export interface Decision {
  allowed: boolean;
  /** Why, in AWS's words; shown to the caller on a denial. */
  reason: string;
}

/** What the request itself tells the policy conditions (aws:SourceIp, aws:SecureTransport, ...). */
export interface RequestFacts {
  sourceIp?: string;
  secureTransport?: boolean;
  /** Tags the request sets (aws:RequestTag/<key>, aws:TagKeys). */
  requestTags?: Record<string, string>;
  /** Further condition keys of the request (a web identity's `<issuer>:sub`, ...). */
  values?: Record<string, string | string[]>;
  /**
   * The resource's own policy when it is not a repository's or the registry's: a role's trust
   * policy for sts:AssumeRole. The registry and repository policies do not apply then.
   */
  resourcePolicy?: { name: string; document: string; /** It must allow, even within the account (a trust policy). */ required?: boolean };
  /**
   * Scratch space of one request: the authorizer keeps what it reads here (the caller's policies,
   * the repository's and the registry's), so that a request needing several actions, or several
   * resources, reads each once. requestFacts() makes a fresh one per request.
   */
  memo?: Map<string, Promise<unknown>>;
}

export interface Authorizer {
  authorize(principal: Principal | null, action: string, resource: Resource, facts?: RequestFacts): Promise<Decision>;
}

/** The facts of an HTTP request (Fastify's `ip` and `protocol`: the socket's, as berth trusts no proxy headers). */
export function requestFacts(req: { ip: string; protocol: string }): RequestFacts {
  return { sourceIp: req.ip.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1'), secureTransport: req.protocol === 'https', memo: new Map() };
}
