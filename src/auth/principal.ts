// Who is making a request.
export interface Principal {
  accountId: string;
  /** `arn:aws:iam::<account>:root` or `arn:aws:iam::<account>:user/<name>`. */
  arn: string;
  userName: string;
  /** The access key the request was authenticated with. */
  accessKeyId: string;
  kind: 'root' | 'user';
  /**
   * The registry (account) `/v2/` requests address, when the credentials name one: a login token
   * from GetAuthorizationToken with `registryIds` of another account. Unset: the principal's own.
   */
  registryId?: string;
}

export function rootArn(accountId: string): string {
  return `arn:aws:iam::${accountId}:root`;
}

/** The principal an access key authenticates. */
export function principalOf(key: { accountId: string; userName: string; accessKeyId: string }): Principal {
  const root = key.userName === 'root';
  return {
    accountId: key.accountId,
    arn: root ? rootArn(key.accountId) : `arn:aws:iam::${key.accountId}:user/${key.userName}`,
    userName: key.userName,
    accessKeyId: key.accessKeyId,
    kind: root ? 'root' : 'user',
  };
}
