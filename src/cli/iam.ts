// `berth iam ...`: users, access keys, groups, roles, policies and OIDC providers for people without
// the AWS CLI, through berth's IAM API with the AWS SDK (the same requests `aws iam` sends). The
// endpoint, credentials and region are found as for `berth repo` (src/cli/ecr.ts).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
// The SDK is loaded when one of these commands runs, not on every start of `berth serve`.
import type * as IamSdk from '@aws-sdk/client-iam';
import type { AccessKeyMetadata, AttachedPolicy, IAMClient, User } from '@aws-sdk/client-iam';
import { connection, json, resolveCredentials, table, unreachable, UsageError } from './ecr.ts';

type Sdk = typeof IamSdk;

export const IAM_HELP = `IAM commands (through berth's IAM API, as aws iam would call it):
  berth iam create-user NAME
  berth iam delete-user NAME            (its keys, policies and groups removed first)
  berth iam list-users
  berth iam create-access-key USER      prints the key id and its secret, once
  berth iam list-access-keys USER
  berth iam delete-access-key USER KEYID
  berth iam update-access-key USER KEYID --status Active|Inactive
  berth iam create-group NAME
  berth iam add-user-to-group GROUP USER
  berth iam create-role NAME --trust-policy FILE|JSON [--max-session-duration SECONDS]
  berth iam delete-role NAME
  berth iam create-policy NAME --document FILE|JSON
  berth iam delete-policy ARN
  berth iam attach-policy --user|--group|--role NAME ARN
  berth iam detach-policy --user|--group|--role NAME ARN
                                        ARN may be ReadOnly, PowerUser, FullAccess or PullOnly for
                                        AWS's AmazonEC2ContainerRegistry* managed policies
  berth iam put-policy --user|--group|--role NAME POLICYNAME --document FILE|JSON
                                        an inline policy (replaced when it exists)
  berth iam list-policies --user|--group|--role NAME
                                        the managed policies attached and the inline ones
  berth iam create-oidc-provider URL --client-id ID [--client-id ID2 ...] [--thumbprint T ...]
A document is JSON text (starting with "{"), or a file name (file:// optional).
Options (--endpoint, --region, --data-dir, --json) and credentials as for the registry commands.
`;

/** AWS's managed policies for ECR by their short names. */
export const MANAGED_SHORT_NAMES: Readonly<Record<string, string>> = {
  ReadOnly: 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly',
  PowerUser: 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser',
  FullAccess: 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess',
  PullOnly: 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly',
};

type Kind = 'user' | 'group' | 'role';

interface Command {
  /** Positional arguments, by name (their count is checked). */
  args: readonly string[];
  /** Options besides the common ones. */
  flags: readonly Flag[];
  usage: string;
}

type Flag = 'status' | 'trust-policy' | 'max-session-duration' | 'document' | 'user' | 'group' | 'role' | 'client-id' | 'thumbprint';
const ALL_FLAGS: readonly Flag[] = ['status', 'trust-policy', 'max-session-duration', 'document', 'user', 'group', 'role', 'client-id', 'thumbprint'];
const WHO: readonly Flag[] = ['user', 'group', 'role'];

const COMMANDS: Readonly<Record<string, Command>> = {
  'create-user': { args: ['NAME'], flags: [], usage: 'berth iam create-user NAME' },
  'delete-user': { args: ['NAME'], flags: [], usage: 'berth iam delete-user NAME' },
  'list-users': { args: [], flags: [], usage: 'berth iam list-users' },
  'create-access-key': { args: ['USER'], flags: [], usage: 'berth iam create-access-key USER' },
  'list-access-keys': { args: ['USER'], flags: [], usage: 'berth iam list-access-keys USER' },
  'delete-access-key': { args: ['USER', 'KEYID'], flags: [], usage: 'berth iam delete-access-key USER KEYID' },
  'update-access-key': { args: ['USER', 'KEYID'], flags: ['status'], usage: 'berth iam update-access-key USER KEYID --status Active|Inactive' },
  'create-group': { args: ['NAME'], flags: [], usage: 'berth iam create-group NAME' },
  'add-user-to-group': { args: ['GROUP', 'USER'], flags: [], usage: 'berth iam add-user-to-group GROUP USER' },
  'create-role': { args: ['NAME'], flags: ['trust-policy', 'max-session-duration'], usage: 'berth iam create-role NAME --trust-policy FILE|JSON [--max-session-duration SECONDS]' },
  'delete-role': { args: ['NAME'], flags: [], usage: 'berth iam delete-role NAME' },
  'create-policy': { args: ['NAME'], flags: ['document'], usage: 'berth iam create-policy NAME --document FILE|JSON' },
  'delete-policy': { args: ['ARN'], flags: [], usage: 'berth iam delete-policy ARN' },
  'attach-policy': { args: ['ARN'], flags: WHO, usage: 'berth iam attach-policy --user|--group|--role NAME ARN' },
  'detach-policy': { args: ['ARN'], flags: WHO, usage: 'berth iam detach-policy --user|--group|--role NAME ARN' },
  'put-policy': { args: ['POLICYNAME'], flags: [...WHO, 'document'], usage: 'berth iam put-policy --user|--group|--role NAME POLICYNAME --document FILE|JSON' },
  'list-policies': { args: [], flags: WHO, usage: 'berth iam list-policies --user|--group|--role NAME' },
  'create-oidc-provider': { args: ['URL'], flags: ['client-id', 'thumbprint'], usage: 'berth iam create-oidc-provider URL --client-id ID [--client-id ID2 ...] [--thumbprint T ...]' },
};

/** A policy document given as JSON text or as a file (`file://` optional). */
export function readDocument(value: string, flag: string): string {
  if (value.trimStart().startsWith('{')) return value;
  const file = value.startsWith('file://') ? value.slice('file://'.length) : value;
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new UsageError(`${flag}: "${value}" is neither JSON text nor a readable file (${code === 'ENOENT' ? 'not found' : (e as Error).message})`);
  }
}

/** An ARN, or the short name of one of AWS's managed policies for ECR. */
export function policyArn(value: string): string {
  const short = MANAGED_SHORT_NAMES[value] ?? MANAGED_SHORT_NAMES[value.replace(/^AmazonEC2ContainerRegistry/, '')];
  if (short !== undefined) return short;
  if (value.startsWith('arn:')) return value;
  throw new UsageError(`"${value}" is not a policy ARN nor one of ${Object.keys(MANAGED_SHORT_NAMES).join(', ')}`);
}

function dateText(d: Date | undefined): string {
  return d === undefined ? '' : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}


/** Aligned `name  value` lines. */
function fields(rows: ReadonlyArray<readonly [string, string]>): string {
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}

/** Collects every page of a Marker-paginated IAM list. */
async function allPages<T>(fetchPage: (marker: string | undefined) => Promise<{ items: T[] | undefined; IsTruncated?: boolean | undefined; Marker?: string | undefined }>): Promise<T[]> {
  const out: T[] = [];
  let marker: string | undefined;
  for (;;) {
    const p = await fetchPage(marker);
    out.push(...(p.items ?? []));
    if (p.IsTruncated !== true || p.Marker === undefined) return out;
    marker = p.Marker;
  }
}

const markerOf = (marker: string | undefined): { Marker?: string } => (marker !== undefined ? { Marker: marker } : {});

/** `berth iam <command> ...`; returns the exit status. */
export async function iamCommand(argv: string[], env: NodeJS.ProcessEnv, out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const { values, positionals: args } = parseArgs({
    args: argv,
    options: {
      endpoint: { type: 'string' },
      region: { type: 'string' },
      'data-dir': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      status: { type: 'string' },
      'trust-policy': { type: 'string' },
      'max-session-duration': { type: 'string' },
      document: { type: 'string' },
      user: { type: 'string' },
      group: { type: 'string' },
      role: { type: 'string' },
      'client-id': { type: 'string', multiple: true },
      thumbprint: { type: 'string', multiple: true },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help === true) {
    out(IAM_HELP);
    return 0;
  }
  const [sub, ...rest] = args;
  if (sub === undefined) throw new UsageError('usage: berth iam <command>; see berth --help');
  const spec = COMMANDS[sub];
  if (spec === undefined) throw new UsageError(`unknown command "berth iam ${sub}"; see berth --help`);
  for (const f of ALL_FLAGS) {
    if (values[f] !== undefined && !spec.flags.includes(f)) throw new UsageError(`--${f} is not an option of berth iam ${sub}`);
  }
  if (rest.length !== spec.args.length) throw new UsageError(`usage: ${spec.usage}`);
  const arg = (i: number): string => rest[i] ?? '';

  // Whom attach/detach/put/list-policies are about: exactly one of --user, --group, --role.
  let who: { kind: Kind; name: string } | undefined;
  if (spec.flags.includes('user')) {
    const given = (['user', 'group', 'role'] as const).filter((k) => values[k] !== undefined);
    if (given.length !== 1) throw new UsageError(`give exactly one of --user, --group or --role: ${spec.usage}`);
    const kind = given[0] as Kind;
    who = { kind, name: values[kind] ?? '' };
  }
  // Everything the command needs from its flags is checked before any request.
  let status: 'Active' | 'Inactive' | undefined;
  if (sub === 'update-access-key') {
    if (values.status !== 'Active' && values.status !== 'Inactive') throw new UsageError(`--status must be Active or Inactive: ${spec.usage}`);
    status = values.status;
  }
  let document: string | undefined;
  if (sub === 'create-role') {
    if (values['trust-policy'] === undefined) throw new UsageError(`--trust-policy is required: ${spec.usage}`);
    document = readDocument(values['trust-policy'], '--trust-policy');
  }
  if (sub === 'create-policy' || sub === 'put-policy') {
    if (values.document === undefined) throw new UsageError(`--document is required: ${spec.usage}`);
    document = readDocument(values.document, '--document');
  }
  let maxSessionDuration: number | undefined;
  if (values['max-session-duration'] !== undefined) {
    maxSessionDuration = Number(values['max-session-duration']);
    if (!/^\d+$/.test(values['max-session-duration']) || !Number.isSafeInteger(maxSessionDuration)) throw new UsageError(`--max-session-duration must be a number of seconds, not "${values['max-session-duration']}"`);
  }
  if (sub === 'create-oidc-provider' && (values['client-id'] ?? []).length === 0) throw new UsageError(`--client-id is required (the audience of the provider's tokens): ${spec.usage}`);
  const arnArg = sub === 'attach-policy' || sub === 'detach-policy' ? policyArn(arg(0)) : undefined;

  const conn = connection(values, env);
  const asJson = values.json === true;
  const credentials = resolveCredentials(env, conn.dataDir);
  const sdk = await import('@aws-sdk/client-iam');
  const client = new sdk.IAMClient({ endpoint: conn.endpoint, region: conn.region, credentials, maxAttempts: 2 });
  try {
    await run(sdk, client, sub, { arg, who, status, document, maxSessionDuration, arnArg, clientIds: values['client-id'] ?? [], thumbprints: values.thumbprint ?? [], asJson, out });
    return 0;
  } catch (e) {
    if (e instanceof sdk.IAMServiceException) {
      err(`berth: ${e.name}: ${e.message}`);
      return 1;
    }
    const down = unreachable(e, conn.endpoint);
    if (down !== undefined) {
      err(down);
      return 1;
    }
    throw e;
  } finally {
    client.destroy();
  }
}

interface RunInput {
  arg: (i: number) => string;
  who: { kind: Kind; name: string } | undefined;
  status: 'Active' | 'Inactive' | undefined;
  document: string | undefined;
  maxSessionDuration: number | undefined;
  arnArg: string | undefined;
  clientIds: string[];
  thumbprints: string[];
  asJson: boolean;
  out: (line: string) => void;
}

async function run(sdk: Sdk, client: IAMClient, sub: string, r: RunInput): Promise<void> {
  const { arg, asJson, out } = r;
  /** Prints the JSON document with --json, the text otherwise. */
  const say = (doc: unknown, text: string): void => out(asJson ? json(doc) : text);
  const who = (): { kind: Kind; name: string } => r.who as { kind: Kind; name: string };
  switch (sub) {
    case 'create-user': {
      const u = (await client.send(new sdk.CreateUserCommand({ UserName: arg(0) }))).User;
      say(u, u?.Arn ?? arg(0));
      return;
    }
    case 'delete-user':
      await client.send(new sdk.DeleteUserCommand({ UserName: arg(0) }));
      say({ UserName: arg(0) }, `deleted user ${arg(0)}`);
      return;
    case 'list-users': {
      const users = await allPages<User>(async (marker) => {
        const p = await client.send(new sdk.ListUsersCommand({ ...markerOf(marker) }));
        return { items: p.Users, IsTruncated: p.IsTruncated, Marker: p.Marker };
      });
      say(users, table(['NAME', 'USER ID', 'ARN', 'CREATED'], users.map((u) => [u.UserName ?? '', u.UserId ?? '', u.Arn ?? '', dateText(u.CreateDate)])));
      return;
    }
    case 'create-access-key': {
      const k = (await client.send(new sdk.CreateAccessKeyCommand({ UserName: arg(0) }))).AccessKey;
      say(
        k,
        `${fields([
          ['AccessKeyId', k?.AccessKeyId ?? ''],
          ['SecretAccessKey', k?.SecretAccessKey ?? ''],
        ])}\n\nThe secret is shown only now; berth keeps it hashed and sealed.`,
      );
      return;
    }
    case 'list-access-keys': {
      const keys = await allPages<AccessKeyMetadata>(async (marker) => {
        const p = await client.send(new sdk.ListAccessKeysCommand({ UserName: arg(0), ...markerOf(marker) }));
        return { items: p.AccessKeyMetadata, IsTruncated: p.IsTruncated, Marker: p.Marker };
      });
      say(keys, table(['ACCESS KEY ID', 'STATUS', 'CREATED'], keys.map((k) => [k.AccessKeyId ?? '', k.Status ?? '', dateText(k.CreateDate)])));
      return;
    }
    case 'delete-access-key':
      await client.send(new sdk.DeleteAccessKeyCommand({ UserName: arg(0), AccessKeyId: arg(1) }));
      say({ UserName: arg(0), AccessKeyId: arg(1) }, `deleted access key ${arg(1)} of ${arg(0)}`);
      return;
    case 'update-access-key': {
      const Status = r.status ?? 'Active';
      await client.send(new sdk.UpdateAccessKeyCommand({ UserName: arg(0), AccessKeyId: arg(1), Status }));
      say({ UserName: arg(0), AccessKeyId: arg(1), Status }, `access key ${arg(1)} of ${arg(0)} is now ${Status}`);
      return;
    }
    case 'create-group': {
      const g = (await client.send(new sdk.CreateGroupCommand({ GroupName: arg(0) }))).Group;
      say(g, g?.Arn ?? arg(0));
      return;
    }
    case 'add-user-to-group':
      await client.send(new sdk.AddUserToGroupCommand({ GroupName: arg(0), UserName: arg(1) }));
      say({ GroupName: arg(0), UserName: arg(1) }, `added ${arg(1)} to group ${arg(0)}`);
      return;
    case 'create-role': {
      const role = (
        await client.send(
          new sdk.CreateRoleCommand({ RoleName: arg(0), AssumeRolePolicyDocument: r.document ?? '', ...(r.maxSessionDuration !== undefined ? { MaxSessionDuration: r.maxSessionDuration } : {}) }),
        )
      ).Role;
      say(role, role?.Arn ?? arg(0));
      return;
    }
    case 'delete-role':
      await client.send(new sdk.DeleteRoleCommand({ RoleName: arg(0) }));
      say({ RoleName: arg(0) }, `deleted role ${arg(0)}`);
      return;
    case 'create-policy': {
      const p = (await client.send(new sdk.CreatePolicyCommand({ PolicyName: arg(0), PolicyDocument: r.document ?? '' }))).Policy;
      say(p, p?.Arn ?? arg(0));
      return;
    }
    case 'delete-policy':
      await client.send(new sdk.DeletePolicyCommand({ PolicyArn: arg(0) }));
      say({ PolicyArn: arg(0) }, `deleted policy ${arg(0)}`);
      return;
    case 'attach-policy':
    case 'detach-policy': {
      const { kind, name } = who();
      const PolicyArn = r.arnArg ?? '';
      const attach = sub === 'attach-policy';
      if (kind === 'user') await client.send(attach ? new sdk.AttachUserPolicyCommand({ UserName: name, PolicyArn }) : new sdk.DetachUserPolicyCommand({ UserName: name, PolicyArn }));
      else if (kind === 'group') await client.send(attach ? new sdk.AttachGroupPolicyCommand({ GroupName: name, PolicyArn }) : new sdk.DetachGroupPolicyCommand({ GroupName: name, PolicyArn }));
      else await client.send(attach ? new sdk.AttachRolePolicyCommand({ RoleName: name, PolicyArn }) : new sdk.DetachRolePolicyCommand({ RoleName: name, PolicyArn }));
      say({ [nameKey(kind)]: name, PolicyArn }, attach ? `attached ${PolicyArn} to ${kind} ${name}` : `detached ${PolicyArn} from ${kind} ${name}`);
      return;
    }
    case 'put-policy': {
      const { kind, name } = who();
      const PolicyName = arg(0);
      const PolicyDocument = r.document ?? '';
      if (kind === 'user') await client.send(new sdk.PutUserPolicyCommand({ UserName: name, PolicyName, PolicyDocument }));
      else if (kind === 'group') await client.send(new sdk.PutGroupPolicyCommand({ GroupName: name, PolicyName, PolicyDocument }));
      else await client.send(new sdk.PutRolePolicyCommand({ RoleName: name, PolicyName, PolicyDocument }));
      say({ [nameKey(kind)]: name, PolicyName }, `put inline policy ${PolicyName} on ${kind} ${name}`);
      return;
    }
    case 'list-policies': {
      const { kind, name } = who();
      const attached = await allPages<AttachedPolicy>(async (marker) => {
        const p =
          kind === 'user'
            ? await client.send(new sdk.ListAttachedUserPoliciesCommand({ UserName: name, ...markerOf(marker) }))
            : kind === 'group'
              ? await client.send(new sdk.ListAttachedGroupPoliciesCommand({ GroupName: name, ...markerOf(marker) }))
              : await client.send(new sdk.ListAttachedRolePoliciesCommand({ RoleName: name, ...markerOf(marker) }));
        return { items: p.AttachedPolicies, IsTruncated: p.IsTruncated, Marker: p.Marker };
      });
      const inline = await allPages<string>(async (marker) => {
        const p =
          kind === 'user'
            ? await client.send(new sdk.ListUserPoliciesCommand({ UserName: name, ...markerOf(marker) }))
            : kind === 'group'
              ? await client.send(new sdk.ListGroupPoliciesCommand({ GroupName: name, ...markerOf(marker) }))
              : await client.send(new sdk.ListRolePoliciesCommand({ RoleName: name, ...markerOf(marker) }));
        return { items: p.PolicyNames, IsTruncated: p.IsTruncated, Marker: p.Marker };
      });
      say(
        { [nameKey(kind)]: name, AttachedPolicies: attached, InlinePolicyNames: inline },
        table(['TYPE', 'NAME', 'ARN'], [...attached.map((p) => ['attached', p.PolicyName ?? '', p.PolicyArn ?? '']), ...inline.map((n) => ['inline', n, ''])]),
      );
      return;
    }
    case 'create-oidc-provider': {
      const p = await client.send(new sdk.CreateOpenIDConnectProviderCommand({ Url: arg(0), ClientIDList: r.clientIds, ...(r.thumbprints.length > 0 ? { ThumbprintList: r.thumbprints } : {}) }));
      say({ OpenIDConnectProviderArn: p.OpenIDConnectProviderArn }, p.OpenIDConnectProviderArn ?? '');
      return;
    }
  }
  throw new UsageError(`unknown command "berth iam ${sub}"`);
}

function nameKey(kind: Kind): 'UserName' | 'GroupName' | 'RoleName' {
  return kind === 'user' ? 'UserName' : kind === 'group' ? 'GroupName' : 'RoleName';
}
