// Roles and STS AssumeRole through the AWS SDK: the trust policy decides who may assume a role
// (and, across accounts, the caller's identity policies too); the temporary credentials act with
// the role's policies, limited by session policies; they expire, they need their session token,
// and they stop granting anything when the role is deleted. Every refusal stores no session.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AttachRolePolicyCommand, CreateRoleCommand, CreateUserCommand, DeleteRoleCommand, DetachRolePolicyCommand, IAMClient, PutRolePolicyCommand, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient, type AssumeRoleCommandInput, type Credentials } from '@aws-sdk/client-sts';
import { CreateRepositoryCommand, DescribeRepositoriesCommand, GetAuthorizationTokenCommand, type ECRClient } from '@aws-sdk/client-ecr';
import { addAccount, addUser, refusal, startEcrApp, type EcrTestApp } from '../ecr/helpers.ts';

const READ_ONLY = 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly';
const FULL = 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess';

interface Creds {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

describe('roles and STS AssumeRole', () => {
  let t: EcrTestApp;
  let A: string;
  let iam: IAMClient;
  const clients: Array<{ destroy(): void }> = [];
  const track = <C extends { destroy(): void }>(c: C): C => {
    clients.push(c);
    return c;
  };
  const sts = (c: Creds): STSClient => track(new STSClient({ endpoint: t.url, region: 'us-east-1', credentials: c, maxAttempts: 1 }));
  const ecr = (c: Creds): ECRClient => track(t.client(c));
  const creds = (c: Credentials | undefined): Creds => ({ accessKeyId: c?.AccessKeyId ?? '', secretAccessKey: c?.SecretAccessKey ?? '', sessionToken: c?.SessionToken ?? '' });
  const trust = (principal: Record<string, unknown>, extra: Record<string, unknown> = {}): string => JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: principal, Action: 'sts:AssumeRole', ...extra }] });
  const sessions = async (): Promise<number> => Number((await t.app.meta.db.selectFrom('sts_sessions').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst())?.n ?? 0);
  const assume = async (who: Creds, input: AssumeRoleCommandInput): Promise<Creds> => creds((await sts(who).send(new AssumeRoleCommand(input))).Credentials);

  let ci: Awaited<ReturnType<typeof addUser>>;
  let dev: Awaited<ReturnType<typeof addUser>>;

  before(async () => {
    t = await startEcrApp();
    A = t.app.boot.accountId;
    iam = track(new IAMClient({ endpoint: t.url, region: 'us-east-1', credentials: { accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey }, maxAttempts: 1 }));
    ci = await addUser(t, 'ci');
    dev = await addUser(t, 'dev');
    await t.ecr.send(new CreateRepositoryCommand({ repositoryName: 'app' }));
    // `puller` trusts the user ci by name; `delegated` trusts the whole account (its identity policies decide).
    await iam.send(new CreateRoleCommand({ RoleName: 'puller', AssumeRolePolicyDocument: trust({ AWS: ci.arn }), MaxSessionDuration: 7200 }));
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'puller', PolicyArn: READ_ONLY }));
    await iam.send(new CreateRoleCommand({ RoleName: 'delegated', AssumeRolePolicyDocument: trust({ AWS: `arn:aws:iam::${A}:root` }) }));
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'delegated', PolicyArn: READ_ONLY }));
  });

  after(async () => {
    for (const c of clients) c.destroy();
    await t.close();
  });

  test('a user the trust policy names assumes the role and acts with the role\'s policies, as the session', async () => {
    const s = await sts(ci).send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${A}:role/puller`, RoleSessionName: 'build-7' }));
    assert.match(s.Credentials?.AccessKeyId ?? '', /^ASIA[A-Z0-9]{16}$/);
    assert.ok((s.Credentials?.SessionToken ?? '').length > 100);
    const expires = s.Credentials?.Expiration?.getTime() ?? 0;
    assert.ok(Math.abs(expires - (Date.now() + 3600_000)) < 60_000, 'one hour by default');
    assert.equal(s.AssumedRoleUser?.Arn, `arn:aws:sts::${A}:assumed-role/puller/build-7`);
    assert.match(s.AssumedRoleUser?.AssumedRoleId ?? '', /^AROA[A-Z0-9]+:build-7$/);
    const session = creds(s.Credentials);
    const who = await sts(session).send(new GetCallerIdentityCommand({}));
    assert.deepEqual({ Arn: who.Arn, Account: who.Account, UserId: who.UserId }, { Arn: s.AssumedRoleUser?.Arn, Account: A, UserId: s.AssumedRoleUser?.AssumedRoleId });
    const repos = await ecr(session).send(new DescribeRepositoriesCommand({}));
    assert.deepEqual(repos.repositories?.map((r) => r.repositoryName), ['app']);
    const denied = await refusal(ecr(session).send(new CreateRepositoryCommand({ repositoryName: 'new' })));
    assert.equal(denied.name, 'AccessDeniedException');
    assert.equal(
      denied.message,
      `User: arn:aws:sts::${A}:assumed-role/puller/build-7 is not authorized to perform: ecr:CreateRepository on resource: arn:aws:ecr:us-east-1:${A}:repository/new because no identity-based policy allows the ecr:CreateRepository action`,
    );
    // The user itself has no policy: what the session may do comes from the role.
    assert.equal((await refusal(ecr(ci).send(new DescribeRepositoriesCommand({})))).name, 'AccessDeniedException');
  });

  test('a trust policy naming only the account needs an identity policy that allows sts:AssumeRole', async () => {
    const arn = `arn:aws:iam::${A}:role/delegated`;
    const before = await sessions();
    const r = await refusal(sts(dev).send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 's1' })));
    assert.deepEqual({ name: r.name, status: r.status }, { name: 'AccessDenied', status: 403 });
    assert.match(r.message, new RegExp(`^User: arn:aws:iam::${A}:user/dev is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::${A}:role/delegated`));
    assert.equal(await sessions(), before, 'no session stored');
    await iam.send(new PutUserPolicyCommand({ UserName: 'dev', PolicyName: 'assume', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: arn }] }) }));
    const s = await assume(dev, { RoleArn: arn, RoleSessionName: 's1' });
    assert.equal((await ecr(s).send(new DescribeRepositoriesCommand({}))).repositories?.length, 1);
  });

  test('an identity policy alone does not let anyone assume a role whose trust policy does not name them', async () => {
    await iam.send(new PutUserPolicyCommand({ UserName: 'dev', PolicyName: 'assume-any', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }] }) }));
    const before = await sessions();
    const r = await refusal(sts(dev).send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${A}:role/puller`, RoleSessionName: 's2' })));
    assert.equal(r.name, 'AccessDenied');
    assert.match(r.message, /because no resource-based policy allows the sts:AssumeRole action/);
    assert.equal(await sessions(), before);
  });

  test('an unknown role is refused like one the caller may not assume, and the root user may assume none', async () => {
    const unknown = await refusal(sts(ci).send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${A}:role/nope`, RoleSessionName: 'x1' })));
    assert.deepEqual({ name: unknown.name, message: unknown.message }, { name: 'AccessDenied', message: `User: ${ci.arn} is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::${A}:role/nope` });
    const root = await refusal(sts({ accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey }).send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${A}:role/puller`, RoleSessionName: 'x2' })));
    assert.deepEqual({ name: root.name, message: root.message }, { name: 'AccessDenied', message: 'Roles may not be assumed by root accounts.' });
    const bad = await refusal(sts(ci).send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::12345:role/x', RoleSessionName: 'x3' })));
    assert.equal(bad.name, 'ValidationError');
    const name = await refusal(sts(ci).send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${A}:role/puller`, RoleSessionName: 'has space' })));
    assert.equal(name.name, 'ValidationError');
    assert.match(name.message, /roleSessionName|RoleSessionName/);
  });

  test('session duration: 15 minutes to the role\'s MaxSessionDuration; a role session assuming a role gets at most an hour', async () => {
    const arn = `arn:aws:iam::${A}:role/puller`;
    const s = await sts(ci).send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 'long', DurationSeconds: 7200 }));
    assert.ok(Math.abs((s.Credentials?.Expiration?.getTime() ?? 0) - (Date.now() + 7200_000)) < 60_000);
    const short = await refusal(sts(ci).send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 'short', DurationSeconds: 899 })));
    assert.equal(short.name, 'ValidationError');
    const long = await refusal(sts(ci).send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 'long2', DurationSeconds: 7201 })));
    assert.deepEqual({ name: long.name, message: long.message }, { name: 'ValidationError', message: 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.' });
    // Role chaining: `chain` trusts the role puller; puller's session may assume it, for an hour at most.
    await iam.send(new CreateRoleCommand({ RoleName: 'chain', AssumeRolePolicyDocument: trust({ AWS: arn }), MaxSessionDuration: 7200 }));
    const first = creds(s.Credentials);
    await iam.send(new PutRolePolicyCommand({ RoleName: 'puller', PolicyName: 'chain', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }] }) }));
    const chained = await refusal(sts(first).send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${A}:role/chain`, RoleSessionName: 'cc', DurationSeconds: 3601 })));
    assert.deepEqual({ name: chained.name, message: chained.message }, { name: 'ValidationError', message: 'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.' });
    const ok = await sts(first).send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${A}:role/chain`, RoleSessionName: 'cc' }));
    assert.equal(ok.AssumedRoleUser?.Arn, `arn:aws:sts::${A}:assumed-role/chain/cc`);
  });

  test('a session policy limits the session to what both it and the role allow', async () => {
    await iam.send(new CreateRoleCommand({ RoleName: 'admin', AssumeRolePolicyDocument: trust({ AWS: ci.arn }) }));
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'admin', PolicyArn: FULL }));
    const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['ecr:DescribeRepositories', 'ecr:CreateRepository'], Resource: `arn:aws:ecr:us-east-1:${A}:repository/sandbox/*` }] });
    const out = await sts(ci).send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${A}:role/admin`, RoleSessionName: 'narrow', Policy: policy }));
    assert.ok((out.PackedPolicySize ?? 0) > 0 && (out.PackedPolicySize ?? 0) <= 100);
    const s = creds(out.Credentials);
    await ecr(s).send(new CreateRepositoryCommand({ repositoryName: 'sandbox/one' }));
    const r = await refusal(ecr(s).send(new CreateRepositoryCommand({ repositoryName: 'prod' })));
    assert.equal(r.name, 'AccessDeniedException');
    assert.match(r.message, /because no session policy allows the ecr:CreateRepository action$/);
    // The same role without a session policy may.
    const wide = await assume(ci, { RoleArn: `arn:aws:iam::${A}:role/admin`, RoleSessionName: 'wide' });
    await ecr(wide).send(new CreateRepositoryCommand({ repositoryName: 'prod' }));
    // Managed session policies work the same way.
    const ro = await assume(ci, { RoleArn: `arn:aws:iam::${A}:role/admin`, RoleSessionName: 'ro', PolicyArns: [{ arn: READ_ONLY }] });
    assert.equal((await refusal(ecr(ro).send(new CreateRepositoryCommand({ repositoryName: 'prod2' })))).name, 'AccessDeniedException');
    assert.ok(((await ecr(ro).send(new DescribeRepositoriesCommand({}))).repositories?.length ?? 0) >= 3);
  });

  test('bad session policies are refused with STS\'s exceptions, and no session is stored', async () => {
    const before = await sessions();
    const arn = `arn:aws:iam::${A}:role/puller`;
    const malformed = await refusal(sts(ci).send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 'mm', Policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":{"StringEqualsWhatever":{"a":"b"}}}]}' })));
    assert.deepEqual({ name: malformed.name, status: malformed.status }, { name: 'MalformedPolicyDocumentException', status: 400 });
    const syntax = await refusal(sts(ci).send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 'mm', Policy: '{"Version":"2012-10-17","Statement":[' })));
    assert.equal(syntax.name, 'MalformedPolicyDocumentException');
    const statements = Array.from({ length: 40 }, (_, i) => ({ Sid: `S${i}`, Effect: 'Allow', Action: 'ecr:DescribeRepositories', Resource: `arn:aws:ecr:us-east-1:${A}:repository/some-rather-long-name-${i}` }));
    const big = await refusal(sts(ci).send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 'mm', Policy: JSON.stringify({ Version: '2012-10-17', Statement: statements }) })));
    assert.equal(big.name, 'PackedPolicyTooLargeException');
    assert.match(big.message, /^Packed policy consumes \d+% of allotted space, please use smaller policy\.$/);
    const unknownArn = await refusal(sts(ci).send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 'mm', PolicyArns: [{ arn: `arn:aws:iam::${A}:policy/none` }] })));
    assert.equal(unknownArn.name, 'ValidationError');
    assert.equal(await sessions(), before);
  });

  test('trust policy conditions: sts:ExternalId, and session tags need sts:TagSession', async () => {
    const doc = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: ci.arn }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'sts:ExternalId': 'shared-secret-42' } } }],
    });
    await iam.send(new CreateRoleCommand({ RoleName: 'vendor', AssumeRolePolicyDocument: doc }));
    const arn = `arn:aws:iam::${A}:role/vendor`;
    assert.equal((await refusal(sts(ci).send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 'vv' })))).name, 'AccessDenied');
    assert.equal((await refusal(sts(ci).send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 'vv', ExternalId: 'wrong-one' })))).name, 'AccessDenied');
    await assume(ci, { RoleArn: arn, RoleSessionName: 'vv', ExternalId: 'shared-secret-42' });
    // puller's trust policy allows sts:AssumeRole only: tags are refused until it allows sts:TagSession.
    const tagged = await refusal(sts(ci).send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${A}:role/puller`, RoleSessionName: 'tt', Tags: [{ Key: 'team', Value: 'blue' }] })));
    assert.equal(tagged.name, 'AccessDenied');
    assert.match(tagged.message, /sts:TagSession/);
  });

  test('aws:PrincipalTag and aws:userid reach the role session\'s policies', async () => {
    await iam.send(new CreateRoleCommand({ RoleName: 'tagged', AssumeRolePolicyDocument: trust({ AWS: ci.arn }), Tags: [{ Key: 'team', Value: 'blue' }] }));
    // Only repositories under the team's prefix, named by the principal's tag.
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: 'tagged',
        PolicyName: 'team',
        PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:CreateRepository', Resource: `arn:aws:ecr:us-east-1:${A}:repository/\${aws:PrincipalTag/team}/*` }] }),
      }),
    );
    const s = await assume(ci, { RoleArn: `arn:aws:iam::${A}:role/tagged`, RoleSessionName: 'tg' });
    await ecr(s).send(new CreateRepositoryCommand({ repositoryName: 'blue/svc' }));
    assert.equal((await refusal(ecr(s).send(new CreateRepositoryCommand({ repositoryName: 'red/svc' })))).name, 'AccessDeniedException');
  });

  test('temporary credentials need their session token, and expire', async () => {
    const s = await assume(ci, { RoleArn: `arn:aws:iam::${A}:role/puller`, RoleSessionName: 'exp' });
    const noToken = await refusal(ecr({ accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey }).send(new DescribeRepositoriesCommand({})));
    assert.equal(noToken.name, 'UnrecognizedClientException');
    const wrongToken = await refusal(sts({ ...s, sessionToken: `${s.sessionToken ?? ''}x` }).send(new GetCallerIdentityCommand({})));
    assert.deepEqual({ name: wrongToken.name, status: wrongToken.status }, { name: 'InvalidClientTokenId', status: 403 });
    const wrongSecret = await refusal(ecr({ ...s, secretAccessKey: `${s.secretAccessKey}x` }).send(new DescribeRepositoriesCommand({})));
    assert.equal(wrongSecret.name, 'InvalidSignatureException');
    // The session's end comes: its credentials are refused as expired, on the ECR API and on STS.
    await t.app.meta.db.updateTable('sts_sessions').set({ expires_at: Date.now() - 1000 }).where('access_key_id', '=', s.accessKeyId).execute();
    const expired = await refusal(ecr(s).send(new DescribeRepositoriesCommand({})));
    assert.equal(expired.name, 'ExpiredTokenException');
    const expiredSts = await refusal(sts(s).send(new GetCallerIdentityCommand({})));
    assert.deepEqual({ name: expiredSts.name, status: expiredSts.status }, { name: 'ExpiredToken', status: 403 });
  });

  test('a session\'s login token pulls on /v2/ for no longer than the session lasts', async () => {
    const out = await sts(ci).send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${A}:role/puller`, RoleSessionName: 'docker', DurationSeconds: 900 }));
    const s = creds(out.Credentials);
    const token = await ecr(s).send(new GetAuthorizationTokenCommand({}));
    const data = token.authorizationData?.[0];
    assert.equal(data?.expiresAt?.getTime(), out.Credentials?.Expiration?.getTime(), 'the login token ends with the session');
    const auth = `Basic ${data?.authorizationToken ?? ''}`;
    const list = await fetch(`${t.url}/v2/app/tags/list`, { headers: { authorization: auth } });
    assert.equal(list.status, 200);
    assert.deepEqual(await list.json(), { name: 'app', tags: [] });
    const push = await fetch(`${t.url}/v2/app/blobs/uploads/`, { method: 'POST', headers: { authorization: auth } });
    assert.equal(push.status, 403);
    const body = (await push.json()) as { errors: Array<{ code: string; message: string }> };
    assert.equal(body.errors[0]?.code, 'DENIED');
    assert.match(body.errors[0]?.message ?? '', new RegExp(`^User: arn:aws:sts::${A}:assumed-role/puller/docker is not authorized to perform: ecr:InitiateLayerUpload`));
    await t.app.meta.db.updateTable('sts_sessions').set({ expires_at: Date.now() - 1000 }).where('access_key_id', '=', s.accessKeyId).execute();
    t.app.authenticator.invalidate(s.accessKeyId);
    const late = await fetch(`${t.url}/v2/app/tags/list`, { headers: { authorization: auth } });
    assert.equal(late.status, 401);
  });

  test('deleting the role takes its sessions\' permissions away at once', async () => {
    await iam.send(new CreateRoleCommand({ RoleName: 'temp', AssumeRolePolicyDocument: trust({ AWS: ci.arn }) }));
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'temp', PolicyArn: READ_ONLY }));
    const s = await assume(ci, { RoleArn: `arn:aws:iam::${A}:role/temp`, RoleSessionName: 'gone' });
    await ecr(s).send(new DescribeRepositoriesCommand({}));
    await iam.send(new DetachRolePolicyCommand({ RoleName: 'temp', PolicyArn: READ_ONLY }));
    await iam.send(new DeleteRoleCommand({ RoleName: 'temp' }));
    assert.equal((await refusal(ecr(s).send(new DescribeRepositoriesCommand({})))).name, 'AccessDeniedException');
    // A new role of the same name is another role: the old session gets nothing from it.
    await iam.send(new CreateRoleCommand({ RoleName: 'temp', AssumeRolePolicyDocument: trust({ AWS: ci.arn }) }));
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'temp', PolicyArn: READ_ONLY }));
    assert.equal((await refusal(ecr(s).send(new DescribeRepositoriesCommand({})))).name, 'AccessDeniedException');
  });

  test('cross-account: another account\'s user assumes a role that trusts its account, when its own policies allow it', async () => {
    const B = '777788889999';
    const b = await addAccount(t, B);
    const biam = track(new IAMClient({ endpoint: t.url, region: 'us-east-1', credentials: { accessKeyId: b.accessKeyId, secretAccessKey: b.secretAccessKey }, maxAttempts: 1 }));
    await biam.send(new CreateUserCommand({ UserName: 'deployer' }));
    const key = await t.app.meta.accessKeys.listForUser(B, 'deployer');
    assert.equal(key.length, 0);
    const { CreateAccessKeyCommand } = await import('@aws-sdk/client-iam');
    const k = await biam.send(new CreateAccessKeyCommand({ UserName: 'deployer' }));
    const deployer: Creds = { accessKeyId: k.AccessKey?.AccessKeyId ?? '', secretAccessKey: k.AccessKey?.SecretAccessKey ?? '' };
    await iam.send(new CreateRoleCommand({ RoleName: 'partner', AssumeRolePolicyDocument: trust({ AWS: `arn:aws:iam::${B}:root` }) }));
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'partner', PolicyArn: READ_ONLY }));
    const arn = `arn:aws:iam::${A}:role/partner`;
    const r = await refusal(sts(deployer).send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 'pp' })));
    assert.equal(r.name, 'AccessDenied');
    assert.match(r.message, /because no identity-based policy allows the sts:AssumeRole action/);
    await biam.send(new PutUserPolicyCommand({ UserName: 'deployer', PolicyName: 'assume', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: arn }] }) }));
    const s = await assume(deployer, { RoleArn: arn, RoleSessionName: 'pp' });
    const who = await sts(s).send(new GetCallerIdentityCommand({}));
    assert.equal(who.Account, A, 'the session belongs to the role\'s account');
    assert.ok((await ecr(s).send(new DescribeRepositoriesCommand({}))).repositories?.some((x) => x.repositoryName === 'app'));
  });
});
