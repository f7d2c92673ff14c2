export type { Principal } from './principal.ts';
export { rootArn } from './principal.ts';
export type { Authenticator, AuthRequest } from './authenticator.ts';
export { BasicAuthenticator } from './authenticator.ts';
export type { Authorizer, Decision, Resource } from './authorizer.ts';
export { AccountRootAuthorizer } from './authorizer.ts';
export { OCI_ACTIONS, repositoryArn, type OciOperation } from './actions.ts';
export { newAccessKeyId, newSecretAccessKey, newAccountId, hashSecret, verifySecret } from './secrets.ts';
