// Who is making a request.
export interface Principal {
  accountId: string;
  /** `arn:aws:iam::<account>:root` or `arn:aws:iam::<account>:user/<name>`. */
  arn: string;
  userName: string;
  /** The access key the request was authenticated with. */
  accessKeyId: string;
  kind: 'root' | 'user' | 'assumed-role';
  /** For temporary credentials of an assumed role: the role and the session. */
  session?: RoleSession;
  /**
   * The registry (account) `/v2/` requests address, when the credentials name one: a login token
   * from GetAuthorizationToken with `registryIds` of another account. Unset: the principal's own.
   */
  registryId?: string;
}

/** What an assumed-role principal carries of its role and session. */
export interface RoleSession {
  roleName: string;
  roleId: string;
  rolePath: string;
  sessionName: string;
  /** Epoch ms at which the credentials expire. */
  expiresAt: number;
  /** The inline session policy given to AssumeRole, if any. */
  sessionPolicy?: string;
  /** Managed session policies (their ARNs) given to AssumeRole, if any. */
  policyArns?: string[];
  /** The web identity provider's ARN, for AssumeRoleWithWebIdentity sessions. */
  federated?: string;
  tags: Array<{ Key: string; Value: string }>;
}

export function rootArn(accountId: string): string {
  return `arn:aws:iam::${accountId}:root`;
}

/** The principal an access key authenticates; `path` is the IAM user's (`/team/`), part of its ARN. */
export function principalOf(key: { accountId: string; userName: string; accessKeyId: string }, path = '/'): Principal {
  const root = key.userName === 'root';
  return {
    accountId: key.accountId,
    arn: root ? rootArn(key.accountId) : `arn:aws:iam::${key.accountId}:user${path}${key.userName}`,
    userName: key.userName,
    accessKeyId: key.accessKeyId,
    kind: root ? 'root' : 'user',
  };
}

export function roleArn(accountId: string, path: string, name: string): string {
  return `arn:aws:iam::${accountId}:role${path}${name}`;
}

/** The principal temporary credentials of an assumed role stand for. */
export function principalOfSession(s: {
  accessKeyId: string;
  accountId: string;
  roleName: string;
  roleId: string;
  rolePath: string;
  sessionName: string;
  expiresAt: number;
  sessionPolicy?: string;
  policyArns?: string[];
  source: string;
  tags: Array<{ Key: string; Value: string }>;
}): Principal {
  return {
    accountId: s.accountId,
    arn: `arn:aws:sts::${s.accountId}:assumed-role/${s.roleName}/${s.sessionName}`,
    userName: s.sessionName,
    accessKeyId: s.accessKeyId,
    kind: 'assumed-role',
    session: {
      roleName: s.roleName,
      roleId: s.roleId,
      rolePath: s.rolePath,
      sessionName: s.sessionName,
      expiresAt: s.expiresAt,
      ...(s.sessionPolicy !== undefined ? { sessionPolicy: s.sessionPolicy } : {}),
      ...(s.policyArns !== undefined ? { policyArns: s.policyArns } : {}),
      ...(s.source.includes(':oidc-provider/') ? { federated: s.source } : {}),
      tags: s.tags,
    },
  };
}

/**
 * The ARNs a caller is known by where ECR lists principals (pull-time exclusions): its own, and
 * for a role session also its role's (with the role's path).
 */
export function callerArns(p: Principal | null): string[] {
  if (p === null) return [];
  if (p.session === undefined) return [p.arn];
  return [p.arn, roleArn(p.accountId, p.session.rolePath, p.session.roleName)];
}
