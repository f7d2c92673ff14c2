// The Authorizer seam: (principal, action, resource) -> allow or deny, with the reason.
// In this release every authenticated principal of an account acts as that account's root; the IAM
// policy engine plugs in behind the same interface.
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

export class AccountRootAuthorizer implements Authorizer {
  async authorize(principal: Principal | null, action: string, resource: Resource): Promise<Decision> {
    if (principal === null) {
      return { allowed: false, reason: `Anonymous users are not authorized to perform: ${action} on resource: ${resource.arn}` };
    }
    if (principal.accountId !== resource.accountId) {
      return {
        allowed: false,
        reason: `User: ${principal.arn} is not authorized to perform: ${action} on resource: ${resource.arn} because no resource-based policy allows the ${action} action`,
      };
    }
    return { allowed: true, reason: `${principal.arn} is the account's root` };
  }
}
