// Login tokens (what GetAuthorizationToken hands out): signed with the deployment's keyring, they
// carry the principal and an expiry, so any process can check them without a database lookup; the
// access key behind them must still be active. A token may name the registry (account) it is for,
// when it was asked for another account's registry: /v2/ requests made with it address that one.
// A token of an assumed role's session names the session's access key: the authenticator reads
// the session (role, session policies, expiry) back when the token is used.
import { RegistryError } from '../core/errors.ts';
import type { Keyring } from './crypto.ts';
import type { Principal } from './principal.ts';

export function issueLoginToken(keyring: Keyring, p: Principal, expiresAt: number, now: number, registryId?: string): string {
  const reg = registryId !== undefined && registryId !== p.accountId ? { r: registryId } : {};
  return keyring.sign({ t: 'login', v: 1, a: p.accountId, arn: p.arn, u: p.userName, k: p.accessKeyId, kind: p.kind, iat: now, exp: expiresAt, ...reg });
}

/** The principal a login token stands for; Unauthorized / TokenExpired otherwise. */
export function readLoginToken(keyring: Keyring, token: string, now: number): Principal {
  const v = keyring.verify(token);
  if (v === null || v.t !== 'login' || v.v !== 1) throw new RegistryError('Unauthorized', 'invalid login token: get a new one with aws ecr get-login-password');
  if (typeof v.exp !== 'number' || v.exp <= now) throw new RegistryError('TokenExpired', 'the login token has expired: get a new one with aws ecr get-login-password');
  if (typeof v.a !== 'string' || typeof v.arn !== 'string' || typeof v.u !== 'string' || typeof v.k !== 'string' || (v.kind !== 'root' && v.kind !== 'user' && v.kind !== 'assumed-role')) {
    throw new RegistryError('Unauthorized', 'invalid login token');
  }
  if (v.r !== undefined && (typeof v.r !== 'string' || !/^\d{12}$/.test(v.r))) throw new RegistryError('Unauthorized', 'invalid login token');
  return { accountId: v.a, arn: v.arn, userName: v.u, accessKeyId: v.k, kind: v.kind, ...(typeof v.r === 'string' ? { registryId: v.r } : {}) };
}
