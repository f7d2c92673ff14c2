// `aws iam` (the real AWS CLI v2, /usr/bin/aws, Debian's awscli) against a real berth server, with
// only --endpoint-url added: create a user and its access key, attach AWS's ECR read-only policy,
// put and read an inline policy (the CLI decodes the URL-encoded document IAM answers and shows it
// as JSON), create a role with a trust policy, list users page by page, IAM's refusals in the CLI's
// words, and delete it all again. Then the user's own key with `aws ecr`: describe-repositories
// works, create-repository is AccessDeniedException. The CLI runs with a controlled environment:
// credentials and region from AWS_* variables, no config or credentials file, no AWS_CA_BUNDLE.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { childEnv, startServer, type RunningServer } from '../helpers/server.ts';
import { Cleanup, assertOk, describeRun, makeTempDir, run, type RunResult } from './support.ts';

/** Always this binary: another `aws` (a pyenv shim, AWS CLI v1) may come first on PATH. */
const AWS = '/usr/bin/aws';
const READ_ONLY = 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly';

interface Creds {
  AccessKeyId: string;
  SecretAccessKey: string;
}

interface User {
  Path: string;
  UserName: string;
  UserId: string;
  Arn: string;
  CreateDate: string;
  Tags?: Array<{ Key: string; Value: string }>;
}

describe('AWS CLI v2 (aws iam) against berth', () => {
  const cleanup = new Cleanup();
  let skip: string | undefined;
  let server: RunningServer;
  let baseEnv: Record<string, string>;
  let A = '';
  let started = 0;
  /** The access key `aws iam create-access-key` made for the user ci-reader. */
  let key: Creds | undefined;

  before(async () => {
    if (!existsSync(AWS)) {
      skip = `SKIP: ${AWS} not found (install the Debian package 'awscli', the AWS CLI v2)`;
      return;
    }
    const work = await makeTempDir('iam-cli');
    cleanup.dir(work);
    await mkdir(join(work, 'home'), { mode: 0o700 });
    server = await startServer({ env: { BERTH_STRICT_ERRORS: '1' } });
    cleanup.server(server);
    // Nothing from this machine's AWS setup: no profile, no files, no CA bundle, no metadata service.
    baseEnv = childEnv({
      HOME: join(work, 'home'),
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_PAGER: '',
      AWS_EC2_METADATA_DISABLED: 'true',
      TMPDIR: work,
    });
    started = Date.now();
  });

  after(async () => {
    await cleanup.run();
  });

  function skipped(c: TestContext): boolean {
    if (skip === undefined) return false;
    c.skip(skip);
    return true;
  }

  const root = (): Creds => ({ AccessKeyId: server.accessKeyId, SecretAccessKey: server.secretAccessKey });

  async function aws(who: Creds, args: string[]): Promise<RunResult> {
    return await run(AWS, ['--endpoint-url', server.url, '--output', 'json', ...args], { env: { ...baseEnv, AWS_ACCESS_KEY_ID: who.AccessKeyId, AWS_SECRET_ACCESS_KEY: who.SecretAccessKey }, timeoutMs: 120_000 });
  }

  /** Runs `aws ...`, asserts success and parses its JSON output ({} for none). */
  async function awsJson<T>(args: string[], who: Creds = root()): Promise<T> {
    const r = assertOk(await aws(who, args), server);
    const text = r.stdout.toString('utf8').trim();
    return (text === '' ? {} : JSON.parse(text)) as T;
  }

  /** Runs `aws ...`, asserts it failed with the error code `code` (the CLI's wording) and returns the message. */
  async function awsFails(args: string[], code: string, who: Creds = root()): Promise<string> {
    const r = await aws(who, args);
    assert.notEqual(r.code, 0, describeRun(r));
    const m = new RegExp(`An error occurred \\(${code}\\) when calling the (\\w+) operation: (.*)`).exec(r.stderr);
    assert.ok(m !== null, describeRun(r));
    return m[2]?.trim() ?? '';
  }

  const userNames = async (): Promise<string[]> => (await awsJson<{ Users: User[] }>(['iam', 'list-users'])).Users.map((u) => u.UserName);

  test('sts get-caller-identity: the root user of the server\'s account', async (c) => {
    if (skipped(c)) return;
    const who = await awsJson<{ UserId: string; Account: string; Arn: string }>(['sts', 'get-caller-identity']);
    assert.match(who.Account, /^\d{12}$/);
    A = who.Account;
    assert.deepEqual(who, { UserId: A, Account: A, Arn: `arn:aws:iam::${A}:root` });
  });

  test('create-user: the user as IAM answers it; a second time EntityAlreadyExists, a bad name ValidationError', async (c) => {
    if (skipped(c)) return;
    const out = await awsJson<{ User: User }>(['iam', 'create-user', '--user-name', 'ci-reader']);
    const u = out.User;
    assert.deepEqual(Object.keys(u).sort(), ['Arn', 'CreateDate', 'Path', 'UserId', 'UserName']);
    assert.equal(u.UserName, 'ci-reader');
    assert.equal(u.Path, '/');
    assert.match(u.UserId, /^AIDA[A-Z2-7]{17}$/);
    assert.equal(u.Arn, `arn:aws:iam::${A}:user/ci-reader`);
    const created = Date.parse(u.CreateDate);
    assert.ok(created >= started - 1000 && created <= Date.now() + 1000, `CreateDate ${u.CreateDate}`);

    const tagged = await awsJson<{ User: User }>(['iam', 'create-user', '--user-name', 'tagged', '--path', '/team/', '--tags', 'Key=team,Value=blue']);
    assert.equal(tagged.User.Arn, `arn:aws:iam::${A}:user/team/tagged`);
    assert.deepEqual(tagged.User.Tags, [{ Key: 'team', Value: 'blue' }]);
    assert.deepEqual((await awsJson<{ User: User }>(['iam', 'get-user', '--user-name', 'tagged'])).User, tagged.User);

    assert.equal(await awsFails(['iam', 'create-user', '--user-name', 'CI-Reader'], 'EntityAlreadyExists'), 'User with name CI-Reader already exists.');
    const bad = await awsFails(['iam', 'create-user', '--user-name', 'bad name!'], 'ValidationError');
    assert.match(bad, /^1 validation error detected: Value 'bad name!' at 'userName' failed to satisfy constraint: Member must satisfy regular expression/);
    // A control character echoed in the message would make the XML unparseable for the CLI.
    const control = await awsFails(['iam', 'create-user', '--user-name', 'a\u0001b'], 'ValidationError');
    assert.match(control, /^1 validation error detected: Value 'a\uFFFDb' at 'userName'/);
    assert.equal(await awsFails(['iam', 'get-user', '--user-name', 'nobody'], 'NoSuchEntity'), 'The user with name nobody cannot be found.');
    assert.deepEqual(await userNames(), ['ci-reader', 'tagged']);
  });

  test('create-access-key: the key and its secret, once; list-access-keys its metadata', async (c) => {
    if (skipped(c)) return;
    const out = await awsJson<{ AccessKey: Creds & { UserName: string; Status: string; CreateDate: string } }>(['iam', 'create-access-key', '--user-name', 'ci-reader']);
    assert.equal(out.AccessKey.UserName, 'ci-reader');
    assert.match(out.AccessKey.AccessKeyId, /^AKIA[A-Z0-9]{16}$/);
    assert.match(out.AccessKey.SecretAccessKey, /^[A-Za-z0-9+/]{40}$/);
    assert.equal(out.AccessKey.Status, 'Active');
    key = { AccessKeyId: out.AccessKey.AccessKeyId, SecretAccessKey: out.AccessKey.SecretAccessKey };
    const listed = await awsJson<{ AccessKeyMetadata: Array<Record<string, string>> }>(['iam', 'list-access-keys', '--user-name', 'ci-reader']);
    assert.deepEqual(listed.AccessKeyMetadata, [{ UserName: 'ci-reader', AccessKeyId: key.AccessKeyId, Status: 'Active', CreateDate: out.AccessKey.CreateDate }]);
    const who = await awsJson<{ Arn: string }>(['sts', 'get-caller-identity'], key);
    assert.equal(who.Arn, `arn:aws:iam::${A}:user/ci-reader`);
  });

  test('attach-user-policy with AWS\'s AmazonEC2ContainerRegistryReadOnly; list-attached-user-policies shows it', async (c) => {
    if (skipped(c)) return;
    assert.deepEqual(await awsJson(['iam', 'attach-user-policy', '--user-name', 'ci-reader', '--policy-arn', READ_ONLY]), {});
    // The CLI pages through list operations itself, and leaves IsTruncated and Marker out.
    const attached = await awsJson(['iam', 'list-attached-user-policies', '--user-name', 'ci-reader']);
    assert.deepEqual(attached, { AttachedPolicies: [{ PolicyName: 'AmazonEC2ContainerRegistryReadOnly', PolicyArn: READ_ONLY }] });
    const unknown = 'arn:aws:iam::aws:policy/AdministratorAccess';
    assert.equal(await awsFails(['iam', 'attach-user-policy', '--user-name', 'ci-reader', '--policy-arn', unknown], 'NoSuchEntity'), `Policy ${unknown} does not exist or is not attachable.`);
  });

  test('put-user-policy and get-user-policy: the CLI shows the document decoded, as JSON; a malformed one is refused', async (c) => {
    if (skipped(c)) return;
    const doc = { Version: '2012-10-17', Statement: [{ Sid: 'ListTeam', Effect: 'Allow', Action: ['ecr:ListImages'], Resource: `arn:aws:ecr:us-east-1:${A}:repository/team/*`, Condition: { StringLike: { 'aws:username': 'ci-*' } } }] };
    assert.deepEqual(await awsJson(['iam', 'put-user-policy', '--user-name', 'ci-reader', '--policy-name', 'list-team', '--policy-document', JSON.stringify(doc)]), {});
    const got = await awsJson<{ UserName: string; PolicyName: string; PolicyDocument: unknown }>(['iam', 'get-user-policy', '--user-name', 'ci-reader', '--policy-name', 'list-team']);
    assert.deepEqual(got, { UserName: 'ci-reader', PolicyName: 'list-team', PolicyDocument: doc });
    assert.deepEqual(await awsJson(['iam', 'list-user-policies', '--user-name', 'ci-reader']), { PolicyNames: ['list-team'] });

    const bad = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 'ecr:*', Resource: '*' }] });
    const msg = await awsFails(['iam', 'put-user-policy', '--user-name', 'ci-reader', '--policy-name', 'bad', '--policy-document', bad], 'MalformedPolicyDocument');
    assert.match(msg, /Principal/);
    assert.deepEqual(await awsJson(['iam', 'list-user-policies', '--user-name', 'ci-reader']), { PolicyNames: ['list-team'] });
  });

  test('create-role with a trust policy; get-role shows it decoded; list-roles', async (c) => {
    if (skipped(c)) return;
    const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${A}:user/ci-reader` }, Action: 'sts:AssumeRole' }] };
    const out = await awsJson<{ Role: Record<string, unknown> }>(['iam', 'create-role', '--role-name', 'deployer', '--path', '/ci/', '--description', 'deploys <things> & more', '--assume-role-policy-document', JSON.stringify(trust)]);
    assert.equal(out.Role.RoleName, 'deployer');
    assert.equal(out.Role.Path, '/ci/');
    assert.match(String(out.Role.RoleId), /^AROA[A-Z2-7]{17}$/);
    assert.equal(out.Role.Arn, `arn:aws:iam::${A}:role/ci/deployer`);
    assert.deepEqual(out.Role.AssumeRolePolicyDocument, trust);
    assert.equal(out.Role.Description, 'deploys <things> & more');
    assert.equal(out.Role.MaxSessionDuration, 3600);
    const got = await awsJson<{ Role: Record<string, unknown> }>(['iam', 'get-role', '--role-name', 'deployer']);
    assert.deepEqual(got.Role, out.Role);
    assert.deepEqual((await awsJson<{ Roles: Array<Record<string, unknown>> }>(['iam', 'list-roles'])).Roles, [out.Role]);
    const noPrincipal = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole' }] });
    await awsFails(['iam', 'create-role', '--role-name', 'untrusting', '--assume-role-policy-document', noPrincipal], 'MalformedPolicyDocument');
    assert.equal(await awsFails(['iam', 'create-role', '--role-name', 'DEPLOYER', '--assume-role-policy-document', JSON.stringify(trust)], 'EntityAlreadyExists'), 'Role with name DEPLOYER already exists.');
  });

  test('list-users pages through every user with --page-size (MaxItems and Marker), in name order', async (c) => {
    if (skipped(c)) return;
    for (const n of ['page-c', 'page-a', 'page-b']) await awsJson(['iam', 'create-user', '--user-name', n]);
    const all = ['ci-reader', 'page-a', 'page-b', 'page-c', 'tagged'];
    const paged = await awsJson<{ Users: User[] }>(['iam', 'list-users', '--page-size', '2']);
    assert.deepEqual(paged.Users.map((u) => u.UserName), all);
    // One page by hand: the CLI hands back the Marker as its NextToken.
    const first = await awsJson<{ Users: User[]; NextToken?: string }>(['iam', 'list-users', '--max-items', '2']);
    assert.deepEqual(first.Users.map((u) => u.UserName), ['ci-reader', 'page-a']);
    assert.ok(first.NextToken !== undefined);
    const rest = await awsJson<{ Users: User[]; NextToken?: string }>(['iam', 'list-users', '--starting-token', first.NextToken]);
    assert.deepEqual(rest.Users.map((u) => u.UserName), ['page-b', 'page-c', 'tagged']);
    assert.equal(rest.NextToken, undefined);
    assert.deepEqual((await awsJson<{ Users: User[] }>(['iam', 'list-users', '--path-prefix', '/team/'])).Users.map((u) => u.UserName), ['tagged']);
  });

  test('the user\'s own key with aws ecr: describe-repositories works, create-repository is AccessDeniedException', async (c) => {
    if (skipped(c)) return;
    assert.ok(key !== undefined, 'create-access-key ran');
    await awsJson(['ecr', 'create-repository', '--repository-name', 'team/app']);
    const repos = await awsJson<{ repositories: Array<{ repositoryName: string }> }>(['ecr', 'describe-repositories'], key);
    assert.deepEqual(repos.repositories.map((r) => r.repositoryName), ['team/app']);
    const denied = await awsFails(['ecr', 'create-repository', '--repository-name', 'team/new'], 'AccessDeniedException', key);
    assert.equal(denied, `User: arn:aws:iam::${A}:user/ci-reader is not authorized to perform: ecr:CreateRepository on resource: arn:aws:ecr:us-east-1:${A}:repository/team/new because no identity-based policy allows the ecr:CreateRepository action`);
    // Nor may it manage IAM.
    const iamDenied = await awsFails(['iam', 'create-user', '--user-name', 'escalated'], 'AccessDenied', key);
    assert.match(iamDenied, /is not authorized to perform: iam:CreateUser/);
    const names = (await awsJson<{ repositories: Array<{ repositoryName: string }> }>(['ecr', 'describe-repositories'])).repositories.map((r) => r.repositoryName);
    assert.deepEqual(names, ['team/app'], 'nothing created');
    assert.ok(!(await userNames()).includes('escalated'));
  });

  test('delete-*: a user with keys or policies is DeleteConflict until they are gone; then everything is deleted', async (c) => {
    if (skipped(c)) return;
    assert.ok(key !== undefined, 'create-access-key ran');
    assert.equal(await awsFails(['iam', 'delete-user', '--user-name', 'ci-reader'], 'DeleteConflict'), 'Cannot delete entity, must delete access keys first.');
    assert.deepEqual(await awsJson(['iam', 'delete-access-key', '--user-name', 'ci-reader', '--access-key-id', key.AccessKeyId]), {});
    assert.equal(await awsFails(['iam', 'delete-user', '--user-name', 'ci-reader'], 'DeleteConflict'), 'Cannot delete entity, must delete policies first.');
    await awsJson(['iam', 'delete-user-policy', '--user-name', 'ci-reader', '--policy-name', 'list-team']);
    assert.equal(await awsFails(['iam', 'delete-user', '--user-name', 'ci-reader'], 'DeleteConflict'), 'Cannot delete entity, must detach all policies first.');
    await awsJson(['iam', 'detach-user-policy', '--user-name', 'ci-reader', '--policy-arn', READ_ONLY]);
    for (const n of ['ci-reader', 'tagged', 'page-a', 'page-b', 'page-c']) await awsJson(['iam', 'delete-user', '--user-name', n]);
    await awsJson(['iam', 'delete-role', '--role-name', 'deployer']);
    assert.deepEqual(await userNames(), []);
    assert.deepEqual((await awsJson<{ Roles: unknown[] }>(['iam', 'list-roles'])).Roles, []);
    assert.equal(await awsFails(['iam', 'delete-user', '--user-name', 'ci-reader'], 'NoSuchEntity'), 'The user with name ci-reader cannot be found.');
    // The deleted key signs nothing any more.
    const r = await aws(key, ['sts', 'get-caller-identity']);
    assert.notEqual(r.code, 0, describeRun(r));
    assert.match(r.stderr, /An error occurred \(InvalidClientTokenId\) when calling the GetCallerIdentity operation/, describeRun(r));
  });
});
