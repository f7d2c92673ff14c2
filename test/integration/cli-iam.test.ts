// `berth iam ...` against an in-process berth (its IAM API, through main() with injected output and
// environment), checked with the AWS SDK's own IAM and STS clients; and `berth account create|list`
// on a data directory, whose new root key then works against a server started on it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GetOpenIDConnectProviderCommand,
  GetRoleCommand,
  GetUserCommand,
  IAMClient,
  ListAttachedGroupPoliciesCommand,
  ListAttachedUserPoliciesCommand,
  ListGroupsForUserCommand,
  ListRolePoliciesCommand,
  ListUsersCommand,
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { CreateRepositoryCommand, DescribeRepositoriesCommand, DescribeRepositoryCreationTemplatesCommand } from '@aws-sdk/client-ecr';
import { configFromArgs, main } from '../../src/cli/main.ts';
import { openMeta } from '../../src/app/stores.ts';
import { refusal, startEcrApp, type EcrTestApp } from '../ecr/helpers.ts';
import { startTestApp } from '../helpers/app.ts';
import { freePort } from '../helpers/server.ts';

interface Result {
  code: number;
  out: string;
  err: string;
}

async function berth(args: string[], env: NodeJS.ProcessEnv): Promise<Result> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l), env });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const READ_ONLY = 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly';
const POWER_USER = 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser';
const TRUST = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'sts:AssumeRole' }] });
const PULL = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'], Resource: '*' }] });

describe('berth iam', () => {
  let t: EcrTestApp;
  let work: string;
  let iam: IAMClient;
  let env: NodeJS.ProcessEnv;
  let account: string;
  const clients: Array<{ destroy(): void }> = [];

  async function ok(args: string[], e: NodeJS.ProcessEnv = env): Promise<string> {
    const r = await berth(args, e);
    assert.equal(r.code, 0, `berth ${args.join(' ')}: exit ${r.code}\nstdout: ${r.out}\nstderr: ${r.err}`);
    assert.equal(r.err, '', `berth ${args.join(' ')} wrote to stderr`);
    return r.out;
  }

  /** A refused call: exit 1, nothing on stdout, the API's code and message on stderr. */
  async function refused(args: string[], e: NodeJS.ProcessEnv = env): Promise<string> {
    const r = await berth(args, e);
    assert.equal(r.code, 1, `berth ${args.join(' ')}: expected exit 1, got ${r.code}\nstdout: ${r.out}\nstderr: ${r.err}`);
    assert.equal(r.out, '');
    return r.err;
  }

  /** A usage error: exit 2, nothing on stdout. */
  async function usage(args: string[], e: NodeJS.ProcessEnv = env): Promise<string> {
    const r = await berth(args, e);
    assert.equal(r.code, 2, `berth ${args.join(' ')}: expected exit 2, got ${r.code}\nstdout: ${r.out}\nstderr: ${r.err}`);
    assert.equal(r.out, '');
    return r.err;
  }

  const sts = (accessKeyId: string, secretAccessKey: string): STSClient => {
    const c = new STSClient({ endpoint: t.url, region: 'us-east-1', credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 });
    clients.push(c);
    return c;
  };

  const names = async (): Promise<string[]> => ((await iam.send(new ListUsersCommand({}))).Users ?? []).map((u) => u.UserName ?? '').sort();

  before(async () => {
    t = await startEcrApp();
    account = t.app.boot.accountId;
    work = await mkdtemp(join(tmpdir(), 'berth-cli-iam-'));
    env = { AWS_ACCESS_KEY_ID: t.accessKeyId, AWS_SECRET_ACCESS_KEY: t.secretAccessKey, BERTH_ENDPOINT: t.url };
    iam = new IAMClient({ endpoint: t.url, region: 'us-east-1', credentials: { accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey }, maxAttempts: 1 });
    clients.push(iam);
  });

  after(async () => {
    for (const c of clients) c.destroy();
    await t.close();
    await rm(work, { recursive: true, force: true });
  });

  test('--help lists every iam command and the account commands', async () => {
    const help = await ok(['--help']);
    for (const s of [
      'berth iam create-user NAME',
      'berth iam delete-user NAME',
      'berth iam list-users',
      'berth iam create-access-key USER',
      'berth iam list-access-keys USER',
      'berth iam delete-access-key USER KEYID',
      'berth iam update-access-key USER KEYID --status Active|Inactive',
      'berth iam create-group NAME',
      'berth iam add-user-to-group GROUP USER',
      'berth iam create-role NAME --trust-policy FILE|JSON [--max-session-duration SECONDS]',
      'berth iam delete-role NAME',
      'berth iam create-policy NAME --document FILE|JSON',
      'berth iam delete-policy ARN',
      'berth iam attach-policy --user|--group|--role NAME ARN',
      'berth iam detach-policy --user|--group|--role NAME ARN',
      'berth iam put-policy --user|--group|--role NAME POLICYNAME --document FILE|JSON',
      'berth iam list-policies --user|--group|--role NAME',
      'berth iam create-oidc-provider URL --client-id ID',
      'ReadOnly, PowerUser, FullAccess or PullOnly',
      'berth account create [--id 12-DIGIT-ID] [--json]',
      'berth account list [--json]',
    ]) {
      assert.ok(help.includes(s), `--help mentions ${s}`);
    }
    assert.match(await ok(['iam', '--help']), /^IAM commands/);
    assert.match(await ok(['account', '--help']), /^Accounts/);
  });

  test('create-user, list-users, delete-user: text and --json; a second create-user is refused', async () => {
    assert.equal(await ok(['iam', 'create-user', 'alice']), `arn:aws:iam::${account}:user/alice`);
    const doc = JSON.parse(await ok(['iam', 'create-user', 'bob', '--json'])) as Record<string, unknown>;
    assert.equal(doc.UserName, 'bob');
    assert.equal(doc.Arn, `arn:aws:iam::${account}:user/bob`);
    assert.match(String(doc.UserId), /^AIDA[A-Z2-7]{17}$/);
    assert.match(String(doc.CreateDate), /^\d{4}-\d\d-\d\dT/);
    assert.equal(doc.$metadata, undefined);
    const got = await iam.send(new GetUserCommand({ UserName: 'bob' }));
    assert.equal(got.User?.UserId, doc.UserId);

    const lines = (await ok(['iam', 'list-users'])).split('\n');
    assert.match(lines[0] ?? '', /^NAME\s+USER ID\s+ARN\s+CREATED$/);
    const alice = lines.find((l) => l.startsWith('alice '));
    assert.ok(alice !== undefined, lines.join('\n'));
    assert.ok(alice.includes(`arn:aws:iam::${account}:user/alice`));
    const listed = JSON.parse(await ok(['iam', 'list-users', '--json'])) as Array<{ UserName: string }>;
    assert.deepEqual(listed.map((u) => u.UserName).sort(), await names());
    assert.ok(listed.some((u) => u.UserName === 'alice') && listed.some((u) => u.UserName === 'bob'));

    const again = await refused(['iam', 'create-user', 'alice']);
    assert.equal(again, 'berth: EntityAlreadyExistsException: User with name alice already exists.');

    assert.equal(await ok(['iam', 'delete-user', 'bob']), 'deleted user bob');
    assert.equal((await refusal(iam.send(new GetUserCommand({ UserName: 'bob' })))).name, 'NoSuchEntityException');
    assert.deepEqual(JSON.parse(await ok(['iam', 'delete-user', 'alice', '--json'])), { UserName: 'alice' });
    assert.equal(await refused(['iam', 'delete-user', 'alice']), 'berth: NoSuchEntityException: The user with name alice cannot be found.');
  });

  test('access keys: create prints the secret once and it works; list, deactivate, delete', async () => {
    await ok(['iam', 'create-user', 'ci']);
    const text = await ok(['iam', 'create-access-key', 'ci']);
    const id = /^AccessKeyId\s+(AKIA[A-Z2-7]{16})$/m.exec(text)?.[1];
    const secret = /^SecretAccessKey\s+(\S{40})$/m.exec(text)?.[1];
    assert.ok(id !== undefined && secret !== undefined, text);
    assert.match(text, /shown only now/);
    const who = await sts(id, secret).send(new GetCallerIdentityCommand({}));
    assert.equal(who.Arn, `arn:aws:iam::${account}:user/ci`);

    const second = JSON.parse(await ok(['iam', 'create-access-key', 'ci', '--json'])) as Record<string, unknown>;
    assert.equal(second.UserName, 'ci');
    assert.equal(second.Status, 'Active');
    assert.match(String(second.AccessKeyId), /^AKIA/);
    assert.equal(String(second.SecretAccessKey).length, 40);
    // IAM's quota: two keys a user.
    assert.equal(await refused(['iam', 'create-access-key', 'ci']), 'berth: LimitExceededException: Cannot exceed quota for AccessKeysPerUser: 2');

    const table = (await ok(['iam', 'list-access-keys', 'ci'])).split('\n');
    assert.match(table[0] ?? '', /^ACCESS KEY ID\s+STATUS\s+CREATED$/);
    assert.deepEqual(table.slice(1).map((l) => l.split(/\s+/).slice(0, 2)).sort(), [[id, 'Active'], [String(second.AccessKeyId), 'Active']].sort());

    assert.equal(await ok(['iam', 'update-access-key', 'ci', id, '--status', 'Inactive']), `access key ${id} of ci is now Inactive`);
    const keys = JSON.parse(await ok(['iam', 'list-access-keys', 'ci', '--json'])) as Array<{ AccessKeyId: string; Status: string }>;
    assert.equal(keys.find((k) => k.AccessKeyId === id)?.Status, 'Inactive');
    assert.equal(keys.find((k) => k.AccessKeyId === second.AccessKeyId)?.Status, 'Active');
    assert.equal((await refusal(sts(id, secret).send(new GetCallerIdentityCommand({})))).name, 'InvalidClientTokenId');

    assert.equal(await ok(['iam', 'delete-access-key', 'ci', id]), `deleted access key ${id} of ci`);
    assert.deepEqual(JSON.parse(await ok(['iam', 'delete-access-key', 'ci', String(second.AccessKeyId), '--json'])), { UserName: 'ci', AccessKeyId: second.AccessKeyId });
    assert.deepEqual(JSON.parse(await ok(['iam', 'list-access-keys', 'ci', '--json'])), []);
    assert.equal(await refused(['iam', 'delete-access-key', 'ci', id]), `berth: NoSuchEntityException: The Access Key with id ${id} cannot be found.`);
    assert.equal(await refused(['iam', 'list-access-keys', 'nobody']), 'berth: NoSuchEntityException: The user with name nobody cannot be found.');
  });

  test('a user without IAM permissions is refused with the policy engine\'s message', async () => {
    await ok(['iam', 'create-user', 'weak']);
    const text = await ok(['iam', 'create-access-key', 'weak']);
    const id = /^AccessKeyId\s+(\S+)$/m.exec(text)?.[1] ?? '';
    const secret = /^SecretAccessKey\s+(\S+)$/m.exec(text)?.[1] ?? '';
    const before = await names();
    const msg = await refused(['iam', 'create-user', 'sneaky'], { ...env, AWS_ACCESS_KEY_ID: id, AWS_SECRET_ACCESS_KEY: secret });
    assert.equal(msg, `berth: AccessDenied: User: arn:aws:iam::${account}:user/weak is not authorized to perform: iam:CreateUser on resource: arn:aws:iam::${account}:user/sneaky because no identity-based policy allows the iam:CreateUser action`);
    assert.deepEqual(await names(), before);
  });

  test('groups: create-group, add-user-to-group; attach-policy --group', async () => {
    await ok(['iam', 'create-user', 'dev']);
    assert.equal(await ok(['iam', 'create-group', 'devs']), `arn:aws:iam::${account}:group/devs`);
    assert.equal(await ok(['iam', 'add-user-to-group', 'devs', 'dev']), 'added dev to group devs');
    const groups = await iam.send(new ListGroupsForUserCommand({ UserName: 'dev' }));
    assert.deepEqual((groups.Groups ?? []).map((g) => g.GroupName), ['devs']);
    assert.equal(await ok(['iam', 'attach-policy', '--group', 'devs', 'PowerUser']), `attached ${POWER_USER} to group devs`);
    const attached = await iam.send(new ListAttachedGroupPoliciesCommand({ GroupName: 'devs' }));
    assert.deepEqual((attached.AttachedPolicies ?? []).map((p) => p.PolicyArn), [POWER_USER]);
    assert.equal(await refused(['iam', 'create-group', 'devs']), 'berth: EntityAlreadyExistsException: Group with name devs already exists.');
    assert.equal(await refused(['iam', 'add-user-to-group', 'nogroup', 'dev']), 'berth: NoSuchEntityException: The group with name nogroup cannot be found.');
  });

  test('roles: create-role with a trust policy from a file or as JSON, --max-session-duration; delete-role', async () => {
    const file = join(work, 'trust.json');
    await writeFile(file, TRUST);
    assert.equal(await ok(['iam', 'create-role', 'puller', '--trust-policy', file, '--max-session-duration', '7200']), `arn:aws:iam::${account}:role/puller`);
    const role = (await iam.send(new GetRoleCommand({ RoleName: 'puller' }))).Role;
    assert.equal(role?.MaxSessionDuration, 7200);
    assert.deepEqual(JSON.parse(decodeURIComponent(role?.AssumeRolePolicyDocument ?? '')), JSON.parse(TRUST));

    const doc = JSON.parse(await ok(['iam', 'create-role', 'pusher', '--trust-policy', `file://${file}`, '--json'])) as Record<string, unknown>;
    assert.equal(doc.RoleName, 'pusher');
    assert.equal(doc.MaxSessionDuration, 3600);
    assert.match(String(doc.RoleId), /^AROA/);
    assert.equal(await ok(['iam', 'create-role', 'inline-trust', '--trust-policy', TRUST]), `arn:aws:iam::${account}:role/inline-trust`);

    const bad = await refused(['iam', 'create-role', 'broken', '--trust-policy', '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}']);
    assert.match(bad, /^berth: MalformedPolicyDocumentException: /);
    assert.equal((await refusal(iam.send(new GetRoleCommand({ RoleName: 'broken' })))).name, 'NoSuchEntityException');
    const long = await refused(['iam', 'create-role', 'too-long', '--trust-policy', TRUST, '--max-session-duration', '90000']);
    assert.equal(long, "berth: ValidationError: 1 validation error detected: Value at 'maxSessionDuration' failed to satisfy constraint: Member must be less than or equal to 43200");

    assert.equal(await ok(['iam', 'delete-role', 'inline-trust']), 'deleted role inline-trust');
    assert.equal((await refusal(iam.send(new GetRoleCommand({ RoleName: 'inline-trust' })))).name, 'NoSuchEntityException');
    assert.equal(await refused(['iam', 'delete-role', 'inline-trust']), 'berth: NoSuchEntityException: The role with name inline-trust cannot be found.');
  });

  test('policies: create, attach by short name and by ARN, put inline, list (attached and inline), detach, delete', async () => {
    await ok(['iam', 'create-user', 'reader']);
    await ok(['iam', 'create-role', 'reader-role', '--trust-policy', TRUST]);
    const arn = `arn:aws:iam::${account}:policy/pull-all`;
    assert.equal(await ok(['iam', 'create-policy', 'pull-all', '--document', PULL]), arn);
    const file = join(work, 'pull.json');
    await writeFile(file, PULL);
    const doc = JSON.parse(await ok(['iam', 'create-policy', 'pull-file', '--document', file, '--json'])) as Record<string, unknown>;
    assert.equal(doc.Arn, `arn:aws:iam::${account}:policy/pull-file`);
    assert.equal(doc.AttachmentCount, 0);
    assert.match(await refused(['iam', 'create-policy', 'bad', '--document', '{"Version":"2012-10-17"}']), /^berth: MalformedPolicyDocumentException: /);

    assert.equal(await ok(['iam', 'attach-policy', '--user', 'reader', 'ReadOnly']), `attached ${READ_ONLY} to user reader`);
    assert.equal(await ok(['iam', 'attach-policy', '--user', 'reader', arn]), `attached ${arn} to user reader`);
    assert.deepEqual(JSON.parse(await ok(['iam', 'attach-policy', '--role', 'reader-role', 'AmazonEC2ContainerRegistryPullOnly', '--json'])), {
      RoleName: 'reader-role',
      PolicyArn: 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly',
    });
    const onUser = await iam.send(new ListAttachedUserPoliciesCommand({ UserName: 'reader' }));
    assert.deepEqual((onUser.AttachedPolicies ?? []).map((p) => p.PolicyArn).sort(), [READ_ONLY, arn].sort());

    assert.equal(await ok(['iam', 'put-policy', '--user', 'reader', 'extra', '--document', PULL]), 'put inline policy extra on user reader');
    assert.equal(await ok(['iam', 'put-policy', '--role', 'reader-role', 'extra-role', '--document', file]), 'put inline policy extra-role on role reader-role');
    assert.deepEqual((await iam.send(new ListRolePoliciesCommand({ RoleName: 'reader-role' }))).PolicyNames, ['extra-role']);
    assert.match(await refused(['iam', 'put-policy', '--user', 'reader', 'broken', '--document', '{"Statement":[]}']), /^berth: MalformedPolicyDocumentException: /);

    const lines = (await ok(['iam', 'list-policies', '--user', 'reader'])).split('\n');
    assert.match(lines[0] ?? '', /^TYPE\s+NAME\s+ARN$/);
    assert.deepEqual(
      lines
        .slice(1)
        .map((l) => l.split(/\s+/))
        .sort(),
      [
        ['attached', 'AmazonEC2ContainerRegistryReadOnly', READ_ONLY],
        ['attached', 'pull-all', arn],
        ['inline', 'extra'],
      ].sort(),
    );
    const listed = JSON.parse(await ok(['iam', 'list-policies', '--role', 'reader-role', '--json'])) as Record<string, unknown>;
    assert.deepEqual(listed, {
      RoleName: 'reader-role',
      AttachedPolicies: [{ PolicyName: 'AmazonEC2ContainerRegistryPullOnly', PolicyArn: 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly' }],
      InlinePolicyNames: ['extra-role'],
    });

    // The policies work: ReadOnly lets the user describe repositories, not create them.
    const keyText = await ok(['iam', 'create-access-key', 'reader']);
    const ecr = t.client({ accessKeyId: /^AccessKeyId\s+(\S+)$/m.exec(keyText)?.[1] ?? '', secretAccessKey: /^SecretAccessKey\s+(\S+)$/m.exec(keyText)?.[1] ?? '' });
    clients.push(ecr);
    await ecr.send(new DescribeRepositoriesCommand({}));
    assert.equal((await refusal(ecr.send(new CreateRepositoryCommand({ repositoryName: 'nope' })))).name, 'AccessDeniedException');

    assert.equal(await refused(['iam', 'delete-policy', arn]), 'berth: DeleteConflictException: Cannot delete a policy attached to entities.');
    assert.equal(await ok(['iam', 'detach-policy', '--user', 'reader', arn]), `detached ${arn} from user reader`);
    assert.equal(await refused(['iam', 'detach-policy', '--user', 'reader', arn]), `berth: NoSuchEntityException: Policy ${arn} was not found.`);
    assert.equal(await ok(['iam', 'delete-policy', arn]), `deleted policy ${arn}`);
    assert.equal(await refused(['iam', 'attach-policy', '--user', 'reader', arn]), `berth: NoSuchEntityException: Policy ${arn} does not exist or is not attachable.`);
    assert.match(await refused(['iam', 'delete-policy', READ_ONLY]), /^berth: InvalidInputException: AWS managed policies cannot be deleted/);
    assert.equal(await ok(['iam', 'detach-policy', '--user', 'reader', 'ReadOnly']), `detached ${READ_ONLY} from user reader`);
    const left = await iam.send(new ListAttachedUserPoliciesCommand({ UserName: 'reader' }));
    assert.deepEqual(left.AttachedPolicies, []);
  });

  test('create-oidc-provider: client ids and thumbprints; a second one for the URL is refused', async () => {
    const thumb = 'a'.repeat(40);
    const arn = await ok(['iam', 'create-oidc-provider', 'https://token.example.com/ci', '--client-id', 'sts.amazonaws.com', '--client-id', 'berth', '--thumbprint', thumb]);
    assert.equal(arn, `arn:aws:iam::${account}:oidc-provider/token.example.com/ci`);
    const p = await iam.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }));
    assert.deepEqual(p.ClientIDList, ['sts.amazonaws.com', 'berth']);
    assert.deepEqual(p.ThumbprintList, [thumb]);
    assert.deepEqual(JSON.parse(await ok(['iam', 'create-oidc-provider', 'https://other.example.com', '--client-id', 'x', '--json'])), {
      OpenIDConnectProviderArn: `arn:aws:iam::${account}:oidc-provider/other.example.com`,
    });
    assert.equal(await refused(['iam', 'create-oidc-provider', 'https://token.example.com/ci', '--client-id', 'x']), 'berth: EntityAlreadyExistsException: Provider with url https://token.example.com/ci already exists.');
    assert.match(await refused(['iam', 'create-oidc-provider', 'http://insecure.example.com', '--client-id', 'x']), /^berth: InvalidInputException: Invalid OpenID Connect provider URL/);
  });

  test('usage errors exit 2 before any request; an unreachable endpoint exits 1', async () => {
    // Nothing listens here: a usage error must be found before a request is tried.
    const nowhere = { ...env, BERTH_ENDPOINT: `http://127.0.0.1:${await freePort()}` };
    const before = await names();
    const cases: Array<[string[], RegExp]> = [
      [['iam'], /^berth: usage: berth iam <command>/],
      [['iam', 'make-user', 'x'], /^berth: unknown command "berth iam make-user"/],
      [['iam', 'create-user'], /^berth: usage: berth iam create-user NAME$/],
      [['iam', 'create-user', 'a', 'b'], /^berth: usage: berth iam create-user NAME$/],
      [['iam', 'delete-access-key', 'ci'], /^berth: usage: berth iam delete-access-key USER KEYID$/],
      [['iam', 'create-user', 'x', '--status', 'Active'], /^berth: --status is not an option of berth iam create-user$/],
      [['iam', 'update-access-key', 'ci', 'AKIAEXAMPLE'], /^berth: --status must be Active or Inactive/],
      [['iam', 'update-access-key', 'ci', 'AKIAEXAMPLE', '--status', 'Expired'], /^berth: --status must be Active or Inactive/],
      [['iam', 'create-role', 'r'], /^berth: --trust-policy is required/],
      [['iam', 'create-role', 'r', '--trust-policy', join(work, 'missing.json')], /^berth: --trust-policy: ".*missing\.json" is neither JSON text nor a readable file \(not found\)$/],
      [['iam', 'create-role', 'r', '--trust-policy', TRUST, '--max-session-duration', 'an hour'], /^berth: --max-session-duration must be a number of seconds, not "an hour"$/],
      [['iam', 'create-policy', 'p'], /^berth: --document is required/],
      [['iam', 'attach-policy', 'ReadOnly'], /^berth: give exactly one of --user, --group or --role/],
      [['iam', 'attach-policy', '--user', 'a', '--role', 'b', 'ReadOnly'], /^berth: give exactly one of --user, --group or --role/],
      [['iam', 'attach-policy', '--user', 'a', 'AdministratorAccess'], /^berth: "AdministratorAccess" is not a policy ARN nor one of ReadOnly, PowerUser, FullAccess, PullOnly$/],
      [['iam', 'list-policies'], /^berth: give exactly one of --user, --group or --role/],
      [['iam', 'put-policy', '--user', 'a', 'p'], /^berth: --document is required/],
      [['iam', 'create-oidc-provider', 'https://x.example.com'], /^berth: --client-id is required/],
      [['iam', 'create-user', 'x', '--endpoint', 'ftp://host'], /^berth: --endpoint must be an http:\/\/ or https:\/\/ URL, not "ftp:\/\/host"$/],
      [['iam', 'create-user', 'x', '--bogus'], /^berth: Unknown option '--bogus'/],
    ];
    for (const [args, re] of cases) assert.match(await usage(args, nowhere), re, args.join(' '));
    // No credentials anywhere: a usage error too, naming where berth looked.
    assert.match(await usage(['iam', 'list-users', '--data-dir', join(work, 'no-such-dir')], { BERTH_ENDPOINT: t.url }), /^berth: no credentials: .*root-credentials\.json: not found\)$/);
    assert.deepEqual(await names(), before, 'no usage error created a user');
    assert.match(await refused(['iam', 'list-users'], nowhere), /^berth: cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\); is berth running there\?/);
  });
});

describe('berth account', () => {
  let dataDir: string;
  /** The CLI's environment: only the data directory (no credentials are needed). */
  let env: NodeJS.ProcessEnv;
  let defaultAccount: string;

  const list = async (): Promise<Array<{ accountId: string; default: boolean; createdAt: string }>> => {
    const r = await berth(['account', 'list', '--json'], env);
    assert.equal(r.code, 0, r.err);
    return JSON.parse(r.out) as Array<{ accountId: string; default: boolean; createdAt: string }>;
  };

  const rootKeys = async (accountId: string): Promise<string[]> => {
    const meta = await openMeta(configFromArgs([], env));
    try {
      return (await meta.accessKeys.listForUser(accountId, 'root')).map((k) => k.accessKeyId);
    } finally {
      await meta.close();
    }
  };

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'berth-cli-account-'));
    // A deployment that has started once: the default account and its root key exist.
    const first = await startTestApp({ dataDir, database: 'sqlite' });
    defaultAccount = first.app.boot.accountId;
    await first.close();
    env = { BERTH_DATA_DIR: dataDir };
  });

  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  test('list: the default account, marked', async () => {
    const r = await berth(['account', 'list'], env);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.split('\n');
    assert.match(lines[0] ?? '', /^ACCOUNT\s+CREATED\s+DEFAULT$/);
    assert.equal(lines.length, 2);
    assert.match(lines[1] ?? '', new RegExp(`^${defaultAccount}\\s+\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\s+yes$`));
    assert.deepEqual(
      (await list()).map((a) => [a.accountId, a.default]),
      [[defaultAccount, true]],
    );
  });

  test('create --id: the account and a root key that works against a server on the data directory', async () => {
    const id = '444455556666';
    const r = await berth(['account', 'create', '--id', id, '--data-dir', dataDir], {});
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err, '');
    assert.match(r.out, new RegExp(`^AccountId\\s+${id}$`, 'm'));
    const accessKeyId = /^AccessKeyId\s+(AKIA[A-Z2-7]{16})$/m.exec(r.out)?.[1];
    const secretAccessKey = /^SecretAccessKey\s+(\S{40})$/m.exec(r.out)?.[1];
    assert.ok(accessKeyId !== undefined && secretAccessKey !== undefined, r.out);
    assert.deepEqual((await list()).map((a) => [a.accountId, a.default]).sort(), [[defaultAccount, true], [id, false]].sort());
    assert.deepEqual(await rootKeys(id), [accessKeyId]);

    const t = await startEcrApp({ dataDir, database: 'sqlite' });
    const ecr = t.client({ accessKeyId, secretAccessKey });
    const stsClient = new STSClient({ endpoint: t.url, region: 'us-east-1', credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 });
    try {
      assert.equal((await stsClient.send(new GetCallerIdentityCommand({}))).Arn, `arn:aws:iam::${id}:root`);
      const created = await ecr.send(new CreateRepositoryCommand({ repositoryName: 'team/app' }));
      assert.equal(created.repository?.registryId, id);
      assert.equal(created.repository?.repositoryArn, `arn:aws:ecr:us-east-1:${id}:repository/team/app`);
      // The new account is its own: the default account's root sees none of its repositories.
      const mine = await t.ecr.send(new DescribeRepositoriesCommand({}));
      assert.ok(!(mine.repositories ?? []).some((x) => x.repositoryName === 'team/app'));
      // It got the ROOT CREATE_ON_PUSH template, as the default account did on first start.
      const templates = await ecr.send(new DescribeRepositoryCreationTemplatesCommand({}));
      assert.deepEqual(
        (templates.repositoryCreationTemplates ?? []).map((x) => [x.prefix, x.appliedFor]),
        [['ROOT', ['CREATE_ON_PUSH']]],
      );
    } finally {
      stsClient.destroy();
      await t.close();
    }
  });

  test('create without --id: a random 12-digit id; --json', async () => {
    const r = await berth(['account', 'create', '--json'], env);
    assert.equal(r.code, 0, r.err);
    const doc = JSON.parse(r.out) as { accountId: string; accessKeyId: string; secretAccessKey: string; rootTemplate: boolean };
    assert.match(doc.accountId, /^\d{12}$/);
    assert.match(doc.accessKeyId, /^AKIA[A-Z2-7]{16}$/);
    assert.equal(doc.secretAccessKey.length, 40);
    assert.equal(doc.rootTemplate, true);
    assert.ok((await list()).some((a) => a.accountId === doc.accountId && !a.default));
    assert.deepEqual(await rootKeys(doc.accountId), [doc.accessKeyId]);
  });

  test('create of an existing id is refused and changes nothing', async () => {
    const before = await list();
    const keys = await rootKeys(defaultAccount);
    const r = await berth(['account', 'create', '--id', defaultAccount], env);
    assert.equal(r.code, 1);
    assert.equal(r.out, '');
    assert.equal(r.err, `berth account: account ${defaultAccount} already exists; nothing was changed`);
    assert.deepEqual(await list(), before);
    assert.deepEqual(await rootKeys(defaultAccount), keys);
    const other = await berth(['account', 'create', '--id', '444455556666'], env);
    assert.equal(other.code, 1);
    assert.equal(other.err, 'berth account: account 444455556666 already exists; nothing was changed');
    assert.equal((await rootKeys('444455556666')).length, 1);
  });

  test('malformed ids and other usage errors exit 2 and change nothing', async () => {
    const before = await list();
    for (const bad of ['12345', '1234567890123', '12345678901a', '', ' 123456789012']) {
      const r = await berth(['account', 'create', '--id', bad], env);
      assert.equal(r.code, 2, `--id "${bad}"`);
      assert.equal(r.err, `berth: --id must be a 12-digit account id, not "${bad}"`);
    }
    const cases: Array<[string[], RegExp]> = [
      [['account'], /^berth: usage: berth account create\|list/],
      [['account', 'delete'], /^berth: unknown command "berth account delete"$/],
      [['account', 'list', 'extra'], /^berth: berth account list takes no arguments/],
      [['account', 'list', '--id', '123456789012'], /^berth: --id is not an option of berth account list$/],
      [['account', 'create', '--bogus'], /^berth: Unknown option '--bogus'/],
    ];
    for (const [args, re] of cases) {
      const r = await berth(args, env);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.err, re);
    }
    assert.deepEqual(await list(), before);
  });

  test('a data directory where berth never ran is refused, not made into a deployment', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'berth-cli-account-empty-'));
    try {
      for (const sub of ['create', 'list']) {
        const r = await berth(['account', sub, '--data-dir', empty], {});
        assert.equal(r.code, 1, sub);
        assert.match(r.err, /^berth account: sqlite .*berth\.db: no database there; start berth once/);
        assert.equal(existsSync(join(empty, 'berth.db')), false);
        assert.equal(existsSync(join(empty, 'master.key')), false);
      }
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
