// Who is making a request.
export interface Principal {
  accountId: string;
  /** `arn:aws:iam::<account>:root` or `arn:aws:iam::<account>:user/<name>`. */
  arn: string;
  userName: string;
  /** The access key the request was authenticated with. */
  accessKeyId: string;
  kind: 'root' | 'user';
}

export function rootArn(accountId: string): string {
  return `arn:aws:iam::${accountId}:root`;
}
