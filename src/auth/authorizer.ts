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

/** What the request itself tells the policy conditions (aws:SourceIp, aws:SecureTransport). */
export interface RequestFacts {
  sourceIp?: string;
  secureTransport?: boolean;
}

export interface Authorizer {
  authorize(principal: Principal | null, action: string, resource: Resource, facts?: RequestFacts): Promise<Decision>;
}

/** The facts of an HTTP request (Fastify's `ip` and `protocol`: the socket's, as berth trusts no proxy headers). */
export function requestFacts(req: { ip: string; protocol: string }): RequestFacts {
  return { sourceIp: req.ip.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1'), secureTransport: req.protocol === 'https' };
}
