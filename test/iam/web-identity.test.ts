// AssumeRoleWithWebIdentity through the AWS SDK, with an OpenID Connect issuer served by the test
// (as a CI system issues ID tokens to its jobs): the token's signature, issuer, audience and expiry
// are verified, the role's trust policy conditions on `<issuer>:sub` and `<issuer>:aud`, and the
// credentials it gives push with the role's policies. No refusal stores a session.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AttachRolePolicyCommand, CreateOpenIDConnectProviderCommand, CreateRoleCommand, DeleteOpenIDConnectProviderCommand, GetOpenIDConnectProviderCommand, IAMClient } from '@aws-sdk/client-iam';
import { AssumeRoleWithWebIdentityCommand, GetCallerIdentityCommand, STSClient, type AssumeRoleWithWebIdentityCommandOutput } from '@aws-sdk/client-sts';
import { CreateRepositoryCommand, DeleteRepositoryCommand, DescribeRepositoriesCommand } from '@aws-sdk/client-ecr';
import { refusal, startEcrApp, type EcrTestApp } from '../ecr/helpers.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/oidc-issuer.ts';

const POWER_USER = 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser';

describe('AssumeRoleWithWebIdentity with an OIDC issuer served by the test', () => {
  let t: EcrTestApp;
  let A: string;
  let iam: IAMClient;
  let issuer: TestIssuer;
  let providerArn: string;
  let roleArn: string;
  // No credentials at all: the call is unsigned, as a CI job makes it.
  const sts = (): STSClient => new STSClient({ endpoint: t.url, region: 'us-east-1', maxAttempts: 1, credentials: { accessKeyId: 'unused', secretAccessKey: 'unused' }, signer: { sign: async (r) => r } });
  const sessions = async (): Promise<number> => Number((await t.app.meta.db.selectFrom('sts_sessions').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst())?.n ?? 0);
  const assume = async (token: string, session = 'job-1'): Promise<AssumeRoleWithWebIdentityCommandOutput> => {
    const c = sts();
    try {
      return await c.send(new AssumeRoleWithWebIdentityCommand({ RoleArn: roleArn, RoleSessionName: session, WebIdentityToken: token }));
    } finally {
      c.destroy();
    }
  };
  const refused = async (token: string): Promise<{ name: string; message: string; status: number | undefined }> => {
    const before = await sessions();
    const r = await refusal(assume(token));
    assert.equal(await sessions(), before, 'no session stored');
    return r;
  };

  before(async () => {
    t = await startEcrApp();
    A = t.app.boot.accountId;
    issuer = await startTestIssuer('/ci');
    iam = new IAMClient({ endpoint: t.url, region: 'us-east-1', credentials: { accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey }, maxAttempts: 1 });
    const p = await iam.send(new CreateOpenIDConnectProviderCommand({ Url: issuer.url, ClientIDList: ['sts.amazonaws.com'], ThumbprintList: ['0'.repeat(40)] }));
    providerArn = p.OpenIDConnectProviderArn ?? '';
    const trust = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Federated: providerArn },
          Action: 'sts:AssumeRoleWithWebIdentity',
          Condition: { StringEquals: { [`${issuer.issuer}:aud`]: 'sts.amazonaws.com' }, StringLike: { [`${issuer.issuer}:sub`]: 'repo:acme/app:*' } },
        },
      ],
    };
    const r = await iam.send(new CreateRoleCommand({ RoleName: 'ci-push', AssumeRolePolicyDocument: JSON.stringify(trust) }));
    roleArn = r.Role?.Arn ?? '';
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'ci-push', PolicyArn: POWER_USER }));
  });

  after(async () => {
    iam.destroy();
    await t.close();
    await issuer.close();
  });

  test('the provider is created from its URL: its ARN names the issuer without the scheme', async () => {
    assert.equal(providerArn, `arn:aws:iam::${A}:oidc-provider/${issuer.issuer}`);
    const p = await iam.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: providerArn }));
    assert.deepEqual({ Url: p.Url, ClientIDList: p.ClientIDList }, { Url: issuer.issuer, ClientIDList: ['sts.amazonaws.com'] });
    const dup = await refusal(iam.send(new CreateOpenIDConnectProviderCommand({ Url: issuer.url, ClientIDList: ['x'] })));
    assert.deepEqual({ name: dup.name, status: dup.status }, { name: 'EntityAlreadyExistsException', status: 409 });
    const insecure = await refusal(iam.send(new CreateOpenIDConnectProviderCommand({ Url: 'http://issuer.example.com', ClientIDList: ['x'] })));
    assert.equal(insecure.name, 'InvalidInputException');
  });

  test('a job\'s token for a matching subject gets credentials that push with the role\'s policies', async () => {
    const token = await issuer.token({ sub: 'repo:acme/app:ref:refs/heads/main', aud: 'sts.amazonaws.com' });
    const out = await assume(token, 'gha-run-1');
    assert.match(out.Credentials?.AccessKeyId ?? '', /^ASIA/);
    assert.equal(out.SubjectFromWebIdentityToken, 'repo:acme/app:ref:refs/heads/main');
    assert.equal(out.Provider, issuer.issuer);
    assert.equal(out.Audience, 'sts.amazonaws.com');
    assert.equal(out.AssumedRoleUser?.Arn, `arn:aws:sts::${A}:assumed-role/ci-push/gha-run-1`);
    const creds = { accessKeyId: out.Credentials?.AccessKeyId ?? '', secretAccessKey: out.Credentials?.SecretAccessKey ?? '', sessionToken: out.Credentials?.SessionToken ?? '' };
    const who = new STSClient({ endpoint: t.url, region: 'us-east-1', credentials: creds, maxAttempts: 1 });
    assert.equal((await who.send(new GetCallerIdentityCommand({}))).Arn, `arn:aws:sts::${A}:assumed-role/ci-push/gha-run-1`);
    who.destroy();
    const ecr = t.client(creds);
    await t.ecr.send(new CreateRepositoryCommand({ repositoryName: 'acme/app' }));
    assert.equal((await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['acme/app'] }))).repositories?.length, 1);
    // PowerUser pushes but does not delete repositories.
    const del = await refusal(ecr.send(new DeleteRepositoryCommand({ repositoryName: 'acme/app' })));
    assert.equal(del.name, 'AccessDeniedException');
    ecr.destroy();
  });

  test('another repository\'s subject is refused by the trust policy', async () => {
    const r = await refused(await issuer.token({ sub: 'repo:evil/fork:ref:refs/heads/main', aud: 'sts.amazonaws.com' }));
    assert.deepEqual({ name: r.name, message: r.message, status: r.status }, { name: 'AccessDenied', message: 'Not authorized to perform sts:AssumeRoleWithWebIdentity', status: 403 });
  });

  test('a token for another audience is refused before its signature is looked at', async () => {
    const r = await refused(await issuer.token({ sub: 'repo:acme/app:ref:refs/heads/main', aud: 'some-other-client' }));
    assert.deepEqual({ name: r.name, message: r.message }, { name: 'InvalidIdentityTokenException', message: 'Incorrect token audience' });
  });

  test('an expired token is ExpiredTokenException', async () => {
    const r = await refused(await issuer.token({ sub: 'repo:acme/app:ref:refs/heads/main', aud: 'sts.amazonaws.com' }, { now: Date.now() - 3_600_000, ttlSeconds: 300 }));
    assert.equal(r.name, 'ExpiredTokenException');
    assert.match(r.message, /^Token expired: current date\/time .+ must be before the expiration date\/time .+$/);
  });

  test('a token signed with another key is refused', async () => {
    const r = await refused(await issuer.token({ sub: 'repo:acme/app:ref:refs/heads/main', aud: 'sts.amazonaws.com' }, { forge: true }));
    assert.equal(r.name, 'InvalidIdentityTokenException');
  });

  test('a token whose signature was tampered with, or that is no JWT at all, is refused', async () => {
    const good = await issuer.token({ sub: 'repo:acme/app:ref:refs/heads/main', aud: 'sts.amazonaws.com' });
    const [h, , s] = good.split('.');
    const payload = Buffer.from(JSON.stringify({ iss: issuer.url, sub: 'repo:acme/app:x', aud: 'sts.amazonaws.com', exp: Math.floor(Date.now() / 1000) + 300 })).toString('base64url');
    assert.equal((await refused(`${h ?? ''}.${payload}.${s ?? ''}`)).name, 'InvalidIdentityTokenException');
    assert.equal((await refused('not-a-jwt-at-all-but-long-enough')).name, 'InvalidIdentityTokenException');
    // alg "none" is not accepted either.
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;
    assert.equal((await refused(none)).name, 'InvalidIdentityTokenException');
  });

  test('a token of an issuer the account has no provider for is refused', async () => {
    const r = await refused(await issuer.token({ sub: 'repo:acme/app:x', aud: 'sts.amazonaws.com' }, { iss: 'https://token.elsewhere.example.com' }));
    assert.deepEqual({ name: r.name, message: r.message }, { name: 'InvalidIdentityTokenException', message: 'No OpenIDConnect provider found in your account for https://token.elsewhere.example.com' });
  });

  test('an issuer that cannot be reached is IDPCommunicationError; a provider deleted no longer verifies anything', async () => {
    // A second provider whose keys were never fetched, while its issuer is down.
    const other = await startTestIssuer('/other');
    try {
      await iam.send(new CreateOpenIDConnectProviderCommand({ Url: other.url, ClientIDList: ['sts.amazonaws.com'] }));
      const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Federated: `arn:aws:iam::${A}:oidc-provider/${other.issuer}` }, Action: 'sts:AssumeRoleWithWebIdentity' }] };
      const role = await iam.send(new CreateRoleCommand({ RoleName: 'other-ci', AssumeRolePolicyDocument: JSON.stringify(trust) }));
      other.setDown(true);
      const token = await other.token({ sub: 'x', aud: 'sts.amazonaws.com' });
      const c = sts();
      const r = await refusal(c.send(new AssumeRoleWithWebIdentityCommand({ RoleArn: role.Role?.Arn ?? '', RoleSessionName: 'down', WebIdentityToken: token })));
      assert.equal(r.name, 'IDPCommunicationErrorException');
      other.setDown(false);
      const ok = await c.send(new AssumeRoleWithWebIdentityCommand({ RoleArn: role.Role?.Arn ?? '', RoleSessionName: 'up', WebIdentityToken: token }));
      assert.match(ok.Credentials?.AccessKeyId ?? '', /^ASIA/);
      await iam.send(new DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: `arn:aws:iam::${A}:oidc-provider/${other.issuer}` }));
      const gone = await refusal(c.send(new AssumeRoleWithWebIdentityCommand({ RoleArn: role.Role?.Arn ?? '', RoleSessionName: 'gone', WebIdentityToken: token })));
      assert.equal(gone.name, 'InvalidIdentityTokenException');
      c.destroy();
    } finally {
      await other.close();
    }
  });

  test('the keys are fetched once and reused for later tokens', async () => {
    const before = issuer.jwksFetches();
    for (let i = 0; i < 3; i++) await assume(await issuer.token({ sub: `repo:acme/app:run-${i}`, aud: 'sts.amazonaws.com' }), `run-${i}`);
    assert.ok(issuer.jwksFetches() - before <= 1, `fetched ${issuer.jwksFetches() - before} times`);
  });
});
