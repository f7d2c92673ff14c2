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

export interface Authorizer {
  authorize(principal: Principal | null, action: string, resource: Resource): Promise<Decision>;
}
