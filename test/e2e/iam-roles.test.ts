// The access patterns teams set up in ECR, end to end with the real AWS CLI (/usr/bin/aws) and
// podman/skopeo, everything configured through `aws iam`:
//  - a read-only user pulls and cannot push; a power user pushes and cannot delete the repository;
//  - a simulated CI job with no stored secret: `aws sts assume-role-with-web-identity` (unsigned,
//    no credentials configured) exchanges an ID token of an issuer served by the test for a role's
//    temporary credentials, and `aws ecr get-login-password | podman login` with them then pushes.
//    (The CLI's own AWS_WEB_IDENTITY_TOKEN_FILE provider does the same call, but Debian's CLI 2.9
//    cannot point it at another endpoint: AWS_ENDPOINT_URL arrived in 2.13.)
//  - another account's user assumes its own account's role (`aws sts assume-role`), whose session
//    pulls from this account's repository because the repository policy grants that role.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Fixture } from '../fixtures/build.ts';
import { childEnv } from '../helpers/server.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/oidc-issuer.ts';
import { addAccount, startEcrApp, type EcrTestApp } from '../ecr/helpers.ts';
import { awsCliEnv, Cleanup, assertOk, describeRun, loadFixtures, makeTempDir, missingTools, podmanSandbox, run, type RunResult } from './support.ts';

const AWS = '/usr/bin/aws';
const B = '210987654321';

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

describe('IAM users, roles and web identities with the AWS CLI, podman and skopeo', () => {
  const cleanup = new Cleanup();
  let skip: string | undefined;
  let t: EcrTestApp;
  let A: string;
  let issuer: TestIssuer;
  let tiny: Fixture;
  let work: string;
  let baseEnv: Record<string, string>;

  before(async () => {
    if (!existsSync(AWS)) {
      skip = `SKIP: ${AWS} not found (install the Debian package 'awscli', the AWS CLI v2)`;
      return;
    }
    skip = missingTools([
      ['podman', 'podman'],
      ['skopeo', 'skopeo'],
    ]);
    if (skip !== undefined) return;
    const loaded = await loadFixtures(['tiny']);
    if ('skip' in loaded) {
      skip = loaded.skip;
      return;
    }
    tiny = loaded.fixtures.tiny;
    work = await makeTempDir('iam-roles');
    cleanup.dir(work);
    t = await startEcrApp();
    A = t.app.boot.accountId;
    issuer = await startTestIssuer('/ci');
    baseEnv = await awsCliEnv(work, undefined, { TMPDIR: work });
  });

  after(async () => {
    await t?.close();
    await issuer?.close();
    await cleanup.run();
  });

  function skipped(c: TestContext): boolean {
    if (skip === undefined) return false;
    c.skip(skip);
    return true;
  }

  interface Creds {
    AccessKeyId: string;
    SecretAccessKey: string;
    SessionToken?: string;
  }

  function credEnv(c: Creds): Record<string, string> {
    return { AWS_ACCESS_KEY_ID: c.AccessKeyId, AWS_SECRET_ACCESS_KEY: c.SecretAccessKey, ...(c.SessionToken !== undefined ? { AWS_SESSION_TOKEN: c.SessionToken } : {}) };
  }

  const root = (): Creds => ({ AccessKeyId: t.accessKeyId, SecretAccessKey: t.secretAccessKey });

  async function aws(who: Creds | Record<string, string>, args: string[]): Promise<RunResult> {
    const env = 'AccessKeyId' in who ? credEnv(who as Creds) : who;
    return await run(AWS, ['--endpoint-url', t.url, '--output', 'json', ...args], { env: { ...baseEnv, ...env }, timeoutMs: 120_000 });
  }

  async function awsJson<T>(who: Creds | Record<string, string>, args: string[]): Promise<T> {
    const r = await aws(who, args);
    assert.equal(r.code, 0, describeRun(r));
    const text = r.stdout.toString('utf8').trim();
    return (text === '' ? {} : JSON.parse(text)) as T;
  }

  async function awsFails(who: Creds, args: string[], type: string): Promise<string> {
    const r = await aws(who, args);
    assert.notEqual(r.code, 0, describeRun(r));
    assert.match(r.stderr, new RegExp(`An error occurred \\(${type}\\) when calling the \\w+ operation`), describeRun(r));
    return r.stderr;
  }

  /** An IAM user made with `aws iam` (as the root user), with an access key and a managed policy. */
  async function user(name: string, policy: string, as: Creds = root()): Promise<Creds> {
    await awsJson(as, ['iam', 'create-user', '--user-name', name]);
    await awsJson(as, ['iam', 'attach-user-policy', '--user-name', name, '--policy-arn', `arn:aws:iam::aws:policy/${policy}`]);
    const k = await awsJson<{ AccessKey: Creds }>(as, ['iam', 'create-access-key', '--user-name', name]);
    return { AccessKeyId: k.AccessKey.AccessKeyId, SecretAccessKey: k.AccessKey.SecretAccessKey };
  }

  async function skopeo(dir: string, args: string[]): Promise<RunResult> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const env = childEnv({ HOME: dir, XDG_RUNTIME_DIR: dir, REGISTRY_AUTH_FILE: join(dir, 'auth.json'), TMPDIR: dir });
    return await run('skopeo', ['--insecure-policy', ...args], { env, timeoutMs: 120_000 });
  }

  /** `AWS:<password>` from `aws ecr get-login-password`, or for another account's registry from `get-authorization-token --registry-ids`. */
  async function loginCreds(who: Creds | Record<string, string>, registryId?: string): Promise<string> {
    if (registryId !== undefined) {
      const out = await awsJson<{ authorizationData: Array<{ authorizationToken: string }> }>(who, ['ecr', 'get-authorization-token', '--registry-ids', registryId]);
      return Buffer.from(out.authorizationData[0]?.authorizationToken ?? '', 'base64').toString('utf8');
    }
    const r = await aws(who, ['ecr', 'get-login-password']);
    assert.equal(r.code, 0, describeRun(r));
    return `AWS:${r.stdout.toString('utf8').trim()}`;
  }

  test('a read-only user pulls and cannot push; a power user pushes and cannot delete the repository', async (c) => {
    if (skipped(c)) return;
    await awsJson(root(), ['ecr', 'create-repository', '--repository-name', 'team/app']);
    const reader = await user('reader', 'AmazonEC2ContainerRegistryReadOnly');
    const pusher = await user('pusher', 'AmazonEC2ContainerRegistryPowerUser');
    const attached = await awsJson<{ AttachedPolicies: Array<{ PolicyName: string }> }>(root(), ['iam', 'list-attached-user-policies', '--user-name', 'reader']);
    assert.deepEqual(attached.AttachedPolicies.map((p) => p.PolicyName), ['AmazonEC2ContainerRegistryReadOnly']);

    const dest = `docker://${t.host}/team/app:v1`;
    const readerLogin = await loginCreds(reader);
    const denied = await skopeo(join(work, 'sk-reader'), ['copy', '--dest-tls-verify=false', '--dest-creds', readerLogin, tiny.source, dest]);
    assert.notEqual(denied.code, 0, describeRun(denied));
    assert.match(denied.stderr, /denied|not authorized/i, describeRun(denied));

    const pusherLogin = await loginCreds(pusher);
    assertOk(await skopeo(join(work, 'sk-pusher'), ['copy', '--dest-tls-verify=false', '--dest-creds', pusherLogin, tiny.source, dest]));
    const pulled = await skopeo(join(work, 'sk-reader'), ['inspect', '--raw', '--tls-verify=false', '--creds', readerLogin, dest]);
    assert.equal(pulled.code, 0, describeRun(pulled));
    const err = await awsFails(pusher, ['ecr', 'delete-repository', '--repository-name', 'team/app', '--force'], 'AccessDeniedException');
    assert.match(err, new RegExp(`User: arn:aws:iam::${A}:user/pusher is not authorized to perform: ecr:DeleteRepository`), err);
    await awsFails(reader, ['ecr', 'batch-delete-image', '--repository-name', 'team/app', '--image-ids', 'imageTag=v1'], 'AccessDeniedException');
  });

  test('a simulated CI job: the CLI trades its ID token for the role\'s credentials, then pushes with podman\'s login', async (c) => {
    if (skipped(c)) return;
    const provider = await awsJson<{ OpenIDConnectProviderArn: string }>(root(), [
      'iam',
      'create-open-id-connect-provider',
      '--url',
      issuer.url,
      '--client-id-list',
      'sts.amazonaws.com',
      '--thumbprint-list',
      '0'.repeat(40),
    ]);
    assert.equal(provider.OpenIDConnectProviderArn, `arn:aws:iam::${A}:oidc-provider/${issuer.issuer}`);
    const trust = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Federated: provider.OpenIDConnectProviderArn },
          Action: 'sts:AssumeRoleWithWebIdentity',
          Condition: { StringEquals: { [`${issuer.issuer}:aud`]: 'sts.amazonaws.com' }, StringLike: { [`${issuer.issuer}:sub`]: 'repo:acme/*:ref:refs/heads/main' } },
        },
      ],
    };
    const role = await awsJson<{ Role: { Arn: string } }>(root(), ['iam', 'create-role', '--role-name', 'gha-push', '--assume-role-policy-document', JSON.stringify(trust)]);
    await awsJson(root(), ['iam', 'attach-role-policy', '--role-name', 'gha-push', '--policy-arn', 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser']);
    await awsJson(root(), ['ecr', 'create-repository', '--repository-name', 'acme/service']);

    // The job: no access key anywhere, only its ID token in a file, as CI systems provide it.
    const job = join(work, 'job');
    await mkdir(job, { mode: 0o700 });
    const tokenFile = join(job, 'token');
    await writeFile(tokenFile, await issuer.token({ sub: 'repo:acme/service:ref:refs/heads/main', aud: 'sts.amazonaws.com' }));
    const exchange = async (): Promise<RunResult> =>
      await aws({}, ['sts', 'assume-role-with-web-identity', '--role-arn', role.Role.Arn, '--role-session-name', 'gha-run-42', '--web-identity-token', `file://${tokenFile}`]);
    const ex = await exchange();
    assert.equal(ex.code, 0, describeRun(ex));
    const assumed = JSON.parse(ex.stdout.toString('utf8')) as { Credentials: Creds; SubjectFromWebIdentityToken: string };
    assert.equal(assumed.SubjectFromWebIdentityToken, 'repo:acme/service:ref:refs/heads/main');
    assert.match(assumed.Credentials.AccessKeyId, /^ASIA/);
    const jobEnv = credEnv(assumed.Credentials);
    const who = await awsJson<{ Arn: string }>(jobEnv, ['sts', 'get-caller-identity']);
    assert.equal(who.Arn, `arn:aws:sts::${A}:assumed-role/gha-push/gha-run-42`);

    const { env: podmanEnv, flags } = await podmanSandbox(join(work, 'podman'));
    const envPart = Object.entries({ ...baseEnv, ...jobEnv })
      .map(([k, v]) => `${k}=${shellQuote(v)}`)
      .join(' ');
    const login = `env -i ${envPart} ${AWS} ecr get-login-password --endpoint-url ${shellQuote(t.url)} | podman ${flags.map(shellQuote).join(' ')} login --username AWS --password-stdin --tls-verify=false ${shellQuote(t.host)}`;
    const r = await run('bash', ['-c', `set -o pipefail; ${login}`], { env: podmanEnv, timeoutMs: 180_000 });
    assert.equal(r.code, 0, describeRun(r));
    assert.match(r.stdout.toString('utf8'), /Login Succeeded/i);
    // The push, with the credentials podman login stored (skopeo reads the same auth file).
    const push = await run('skopeo', ['--insecure-policy', 'copy', '--dest-tls-verify=false', tiny.source, `docker://${t.host}/acme/service:build-42`], { env: podmanEnv, timeoutMs: 180_000 });
    assert.equal(push.code, 0, describeRun(push));
    const images = await awsJson<{ imageDetails: Array<{ imageTags?: string[] }> }>(root(), ['ecr', 'describe-images', '--repository-name', 'acme/service']);
    assert.deepEqual(images.imageDetails.flatMap((d) => d.imageTags ?? []), ['build-42']);

    // A token for another branch is refused: the job gets no credentials at all.
    await writeFile(tokenFile, await issuer.token({ sub: 'repo:acme/service:ref:refs/heads/feature', aud: 'sts.amazonaws.com' }));
    const refused = await exchange();
    assert.notEqual(refused.code, 0, describeRun(refused));
    assert.match(refused.stderr, /An error occurred \(AccessDenied\) when calling the AssumeRoleWithWebIdentity operation: Not authorized to perform sts:AssumeRoleWithWebIdentity/, describeRun(refused));
  });

  test('another account\'s user assumes its role, whose session pulls through this account\'s repository policy', async (c) => {
    if (skipped(c)) return;
    await awsJson(root(), ['ecr', 'create-repository', '--repository-name', 'shared/base']);
    assertOk(await skopeo(join(work, 'sk-root'), ['copy', '--dest-tls-verify=false', '--dest-creds', `${t.accessKeyId}:${t.secretAccessKey}`, tiny.source, `docker://${t.host}/shared/base:1`]));

    const b = await addAccount(t, B);
    const bRoot: Creds = { AccessKeyId: b.accessKeyId, SecretAccessKey: b.secretAccessKey };
    // In account B: a user and a role it may assume, with permission to pull (any account's repositories).
    const dev = await user('dev', 'AmazonEC2ContainerRegistryReadOnly', bRoot);
    const bTrust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${B}:user/dev` }, Action: 'sts:AssumeRole' }] };
    await awsJson(bRoot, ['iam', 'create-role', '--role-name', 'puller', '--assume-role-policy-document', JSON.stringify(bTrust)]);
    await awsJson(bRoot, ['iam', 'attach-role-policy', '--role-name', 'puller', '--policy-arn', 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly']);
    const assumed = await awsJson<{ Credentials: Creds; AssumedRoleUser: { Arn: string } }>(dev, ['sts', 'assume-role', '--role-arn', `arn:aws:iam::${B}:role/puller`, '--role-session-name', 'nightly']);
    assert.equal(assumed.AssumedRoleUser.Arn, `arn:aws:sts::${B}:assumed-role/puller/nightly`);
    const session = assumed.Credentials;

    const src = `docker://${t.host}/shared/base:1`;
    const denied = await skopeo(join(work, 'sk-b'), ['inspect', '--raw', '--tls-verify=false', '--creds', await loginCreds(session, A), src]);
    assert.notEqual(denied.code, 0, 'A has not granted anything yet');
    // A's repository policy grants B's role (all of its sessions) the pull actions.
    const policy = {
      Version: '2012-10-17',
      Statement: [{ Sid: 'PullFromB', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${B}:role/puller` }, Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'] }],
    };
    await awsJson(root(), ['ecr', 'set-repository-policy', '--repository-name', 'shared/base', '--policy-text', JSON.stringify(policy)]);
    const login = await loginCreds(session, A);
    const pulled = await skopeo(join(work, 'sk-b'), ['copy', '--src-tls-verify=false', '--src-creds', login, src, `oci:${join(work, 'pulled')}:base`]);
    assert.equal(pulled.code, 0, describeRun(pulled));
    // The same session cannot push there, and B's user itself is not granted by the policy.
    const push = await skopeo(join(work, 'sk-b'), ['copy', '--dest-tls-verify=false', '--dest-creds', login, tiny.source, `docker://${t.host}/shared/base:evil`]);
    assert.notEqual(push.code, 0, describeRun(push));
    const userDenied = await skopeo(join(work, 'sk-b'), ['inspect', '--raw', '--tls-verify=false', '--creds', await loginCreds(dev, A), src]);
    assert.notEqual(userDenied.code, 0, describeRun(userDenied));
  });
});
