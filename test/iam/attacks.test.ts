// The attacks issue 4 lists, each tried against IAM, STS, the ECR API and /v2/: forged, replayed
// and stale signatures, deactivated and deleted keys, expired session tokens, another account's
// resources, and path tricks in repository names under a policy scoped by prefix. None of them
// grants access or changes state (each case checks what it could have changed).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { CreateAccessKeyCommand, CreateRoleCommand, CreateUserCommand, DeleteAccessKeyCommand, GetPolicyCommand, IAMClient, ListUsersCommand, PutUserPolicyCommand, UpdateAccessKeyCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { CreateRepositoryCommand, DescribeRepositoriesCommand, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { addAccount, refusal, startEcrApp, type EcrTestApp } from '../ecr/helpers.ts';

interface Creds {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

describe('attacks on identities and credentials', () => {
  let t: EcrTestApp;
  let A: string;
  let iam: IAMClient;
  const clients: Array<{ destroy(): void }> = [];
  const iamFor = (c: Creds): IAMClient => {
    const x = new IAMClient({ endpoint: t.url, region: 'us-east-1', credentials: c, maxAttempts: 1 });
    clients.push(x);
    return x;
  };
  const stsFor = (c: Creds): STSClient => {
    const x = new STSClient({ endpoint: t.url, region: 'us-east-1', credentials: c, maxAttempts: 1 });
    clients.push(x);
    return x;
  };
  const users = async (): Promise<string[]> => ((await iam.send(new ListUsersCommand({}))).Users ?? []).map((u) => u.UserName ?? '');
  const rootCreds = (): Creds => ({ accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey });

  /** A signed IAM query request (form body), to send as is, tampered, or again. */
  const signed = async (body: string, opts: { creds?: Creds; date?: Date } = {}): Promise<{ headers: Record<string, string>; body: string }> => {
    const c = opts.creds ?? rootCreds();
    const u = new URL(t.url);
    const signer = new SignatureV4({ credentials: c, region: 'us-east-1', service: 'iam', sha256: Hash.bind(null, 'sha256') });
    const req = await signer.sign(
      new HttpRequest({ method: 'POST', protocol: 'http:', hostname: u.hostname, port: Number(u.port), path: '/', headers: { host: t.host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, body }),
      opts.date !== undefined ? { signingDate: opts.date } : {},
    );
    const headers: Record<string, string> = { ...req.headers };
    delete headers.host;
    return { headers, body };
  };
  const send = async (r: { headers: Record<string, string>; body: string }): Promise<{ status: number; code: string | undefined; text: string }> => {
    const res = await fetch(`${t.url}/`, { method: 'POST', headers: r.headers, body: r.body });
    const text = await res.text();
    return { status: res.status, code: /<Code>([^<]+)<\/Code>/.exec(text)?.[1], text };
  };
  const createUserBody = (name: string): string => `Action=CreateUser&Version=2010-05-08&UserName=${name}`;

  before(async () => {
    t = await startEcrApp();
    A = t.app.boot.accountId;
    iam = iamFor(rootCreds());
  });
  after(async () => {
    for (const c of clients) c.destroy();
    await t.close();
  });

  test('a forged signature (wrong secret) is SignatureDoesNotMatch and creates nothing', async () => {
    const before = await users();
    const r = await send(await signed(createUserBody('forged'), { creds: { accessKeyId: t.accessKeyId, secretAccessKey: 'X'.repeat(40) } }));
    assert.deepEqual({ status: r.status, code: r.code }, { status: 403, code: 'SignatureDoesNotMatch' });
    assert.deepEqual(await users(), before);
  });

  test('a signed request with its body changed is refused; replayed as is, it has no second effect', async () => {
    const original = await signed(createUserBody('once'));
    const tampered = { ...original, body: createUserBody('twice') };
    assert.equal((await send(tampered)).code, 'SignatureDoesNotMatch');
    assert.ok(!(await users()).includes('twice'));
    const first = await send(original);
    assert.equal(first.status, 200, first.text);
    const replay = await send(original);
    assert.deepEqual({ status: replay.status, code: replay.code }, { status: 409, code: 'EntityAlreadyExists' });
    assert.equal((await users()).filter((u) => u === 'once').length, 1);
  });

  test('a signature dated more than 15 minutes away (a stale capture, or a clock far ahead) is refused', async () => {
    const before = await users();
    const stale = await send(await signed(createUserBody('stale'), { date: new Date(Date.now() - 16 * 60_000) }));
    assert.deepEqual({ status: stale.status, code: stale.code }, { status: 403, code: 'SignatureDoesNotMatch' });
    assert.match(stale.text, /Signature expired/);
    const future = await send(await signed(createUserBody('future'), { date: new Date(Date.now() + 16 * 60_000) }));
    assert.equal(future.code, 'SignatureDoesNotMatch');
    assert.deepEqual(await users(), before);
  });

  test('a deactivated key signs nothing (IAM, STS, ECR, /v2/ Basic) until reactivated; a deleted one never again', async () => {
    await iam.send(new CreateUserCommand({ UserName: 'keyed' }));
    await iam.send(new PutUserPolicyCommand({ UserName: 'keyed', PolicyName: 'all', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['ecr:*', 'iam:ListUsers'], Resource: '*' }] }) }));
    const k = await iam.send(new CreateAccessKeyCommand({ UserName: 'keyed' }));
    const c: Creds = { accessKeyId: k.AccessKey?.AccessKeyId ?? '', secretAccessKey: k.AccessKey?.SecretAccessKey ?? '' };
    const basic = `Basic ${Buffer.from(`${c.accessKeyId}:${c.secretAccessKey}`).toString('base64')}`;
    const ecr = t.client(c);
    clients.push(ecr);
    await ecr.send(new DescribeRepositoriesCommand({}));
    assert.equal((await fetch(`${t.url}/v2/_catalog`, { headers: { authorization: basic } })).status, 200, 'cached as verified');
    const login = `Basic ${(await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData?.[0]?.authorizationToken ?? ''}`;

    await iam.send(new UpdateAccessKeyCommand({ UserName: 'keyed', AccessKeyId: c.accessKeyId, Status: 'Inactive' }));
    assert.equal((await refusal(ecr.send(new DescribeRepositoriesCommand({})))).name, 'UnrecognizedClientException');
    assert.equal((await refusal(stsFor(c).send(new GetCallerIdentityCommand({})))).name, 'InvalidClientTokenId');
    assert.equal((await refusal(iamFor(c).send(new ListUsersCommand({})))).name, 'InvalidClientTokenId');
    assert.equal((await fetch(`${t.url}/v2/_catalog`, { headers: { authorization: basic } })).status, 401, 'the cached verification was forgotten');
    assert.equal((await fetch(`${t.url}/v2/_catalog`, { headers: { authorization: login } })).status, 401, 'login tokens of the key too');

    await iam.send(new UpdateAccessKeyCommand({ UserName: 'keyed', AccessKeyId: c.accessKeyId, Status: 'Active' }));
    await ecr.send(new DescribeRepositoriesCommand({}));
    assert.equal((await fetch(`${t.url}/v2/_catalog`, { headers: { authorization: basic } })).status, 200);

    await iam.send(new DeleteAccessKeyCommand({ UserName: 'keyed', AccessKeyId: c.accessKeyId }));
    assert.equal((await refusal(ecr.send(new DescribeRepositoriesCommand({})))).name, 'UnrecognizedClientException');
    assert.equal((await fetch(`${t.url}/v2/_catalog`, { headers: { authorization: basic } })).status, 401);
    assert.equal((await fetch(`${t.url}/v2/_catalog`, { headers: { authorization: login } })).status, 401);
    assert.equal(await t.app.meta.accessKeys.get(c.accessKeyId), undefined);
  });

  test('expired session credentials are refused everywhere, and cannot assume roles or get login tokens', async () => {
    await iam.send(new CreateUserCommand({ UserName: 'assumer' }));
    const k = await iam.send(new CreateAccessKeyCommand({ UserName: 'assumer' }));
    const user: Creds = { accessKeyId: k.AccessKey?.AccessKeyId ?? '', secretAccessKey: k.AccessKey?.SecretAccessKey ?? '' };
    const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${A}:user/assumer` }, Action: 'sts:AssumeRole' }] });
    await iam.send(new CreateRoleCommand({ RoleName: 'short', AssumeRolePolicyDocument: trust }));
    const out = await stsFor(user).send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${A}:role/short`, RoleSessionName: 'ss' }));
    const s: Creds = { accessKeyId: out.Credentials?.AccessKeyId ?? '', secretAccessKey: out.Credentials?.SecretAccessKey ?? '', sessionToken: out.Credentials?.SessionToken ?? '' };
    await t.app.meta.db.updateTable('sts_sessions').set({ expires_at: Date.now() - 1 }).where('access_key_id', '=', s.accessKeyId).execute();
    const before = await t.app.meta.db.selectFrom('sts_sessions').select('access_key_id').execute();
    assert.equal((await refusal(stsFor(s).send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${A}:role/short`, RoleSessionName: 'again' })))).name, 'ExpiredToken');
    assert.equal((await refusal(iamFor(s).send(new ListUsersCommand({})))).name, 'ExpiredToken');
    const ecr = t.client(s);
    clients.push(ecr);
    assert.equal((await refusal(ecr.send(new GetAuthorizationTokenCommand({})))).name, 'ExpiredTokenException');
    assert.deepEqual(await t.app.meta.db.selectFrom('sts_sessions').select('access_key_id').execute(), before, 'no new session');
  });

  test('another account\'s resources: an identity policy on * grants nothing there, and IAM never reaches across', async () => {
    const B = '100020003000';
    const b = await addAccount(t, B);
    const biam = iamFor({ accessKeyId: b.accessKeyId, secretAccessKey: b.secretAccessKey });
    const { CreatePolicyCommand } = await import('@aws-sdk/client-iam');
    const p = await biam.send(new CreatePolicyCommand({ PolicyName: 'b-secret', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:*', Resource: '*' }] }) }));
    await t.ecr.send(new CreateRepositoryCommand({ repositoryName: 'a-private' }));
    // A's user with every ECR action on every resource still cannot describe B's repositories...
    await iam.send(new CreateUserCommand({ UserName: 'greedy' }));
    await iam.send(new PutUserPolicyCommand({ UserName: 'greedy', PolicyName: 'all', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['ecr:*', 'iam:*', 'sts:*'], Resource: '*' }] }) }));
    const k = await iam.send(new CreateAccessKeyCommand({ UserName: 'greedy' }));
    const g: Creds = { accessKeyId: k.AccessKey?.AccessKeyId ?? '', secretAccessKey: k.AccessKey?.SecretAccessKey ?? '' };
    await b.ecr.send(new CreateRepositoryCommand({ repositoryName: 'b-private' }));
    const ecr = t.client(g);
    clients.push(ecr);
    const r = await refusal(ecr.send(new DescribeRepositoriesCommand({ registryId: B })));
    assert.equal(r.name, 'AccessDeniedException');
    assert.match(r.message, /because no resource-based policy allows the ecr:DescribeRepositories action/);
    // ...nor read B's customer policy by its ARN, nor assume B's roles.
    const gp = await refusal(iamFor(g).send(new GetPolicyCommand({ PolicyArn: p.Policy?.Arn ?? '' })));
    assert.equal(gp.name, 'AccessDenied');
    assert.ok(!gp.message.includes('ecr:*'), 'nothing of the document leaks');
    await biam.send(new CreateRoleCommand({ RoleName: 'b-admin', AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${B}:root` }, Action: 'sts:AssumeRole' }] }) }));
    assert.equal((await refusal(stsFor(g).send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${B}:role/b-admin`, RoleSessionName: 'steal' })))).name, 'AccessDenied');
    // IAM lists are the caller's account's only: B's users do not show in A's.
    await biam.send(new CreateUserCommand({ UserName: 'b-user' }));
    assert.ok(!(await users()).includes('b-user'));
  });

  test('path tricks in repository names never escape a policy scoped by prefix', async () => {
    await t.ecr.send(new CreateRepositoryCommand({ repositoryName: 'team/app' }));
    await t.ecr.send(new CreateRepositoryCommand({ repositoryName: 'secret' }));
    await iam.send(new CreateUserCommand({ UserName: 'teamer' }));
    await iam.send(
      new PutUserPolicyCommand({
        UserName: 'teamer',
        PolicyName: 'team',
        PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:*', Resource: `arn:aws:ecr:us-east-1:${A}:repository/team/*` }] }),
      }),
    );
    const k = await iam.send(new CreateAccessKeyCommand({ UserName: 'teamer' }));
    const basic = `Basic ${Buffer.from(`${k.AccessKey?.AccessKeyId ?? ''}:${k.AccessKey?.SecretAccessKey ?? ''}`).toString('base64')}`;
    assert.equal((await fetch(`${t.url}/v2/team/app/tags/list`, { headers: { authorization: basic } })).status, 200);
    for (const path of ['/v2/team/../secret/tags/list', '/v2/team/%2e%2e/secret/tags/list', '/v2/team%2F..%2Fsecret/tags/list', '/v2/team/./../secret/tags/list', '/v2/team//secret/tags/list', '/v2/secret/tags/list']) {
      const r = await fetch(`${t.url}${path}`, { headers: { authorization: basic } });
      assert.ok([400, 403, 404].includes(r.status), `${path}: ${r.status}`);
      const body = await r.text();
      assert.ok(!body.includes('"tags"'), `${path} listed tags: ${body}`);
    }
    const ecr = t.client({ accessKeyId: k.AccessKey?.AccessKeyId ?? '', secretAccessKey: k.AccessKey?.SecretAccessKey ?? '' });
    clients.push(ecr);
    for (const name of ['team/../secret', 'team/*', 'team/app/../../secret']) {
      const r = await refusal(ecr.send(new CreateRepositoryCommand({ repositoryName: name })));
      assert.ok(['InvalidParameterException', 'AccessDeniedException'].includes(r.name), `${name}: ${r.name}`);
    }
    const names = (await t.ecr.send(new DescribeRepositoriesCommand({}))).repositories?.map((x) => x.repositoryName) ?? [];
    assert.ok(!names.some((n) => n?.includes('..') === true || n?.includes('*') === true), names.join(','));
  });
});
