// Secrets never reach the log: access key secrets IAM hands out, session tokens STS hands out and
// requests carry (header or presigned query), web identity tokens, login tokens and download
// grants. The app logs at level info into a buffer while each of them is created and used.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { AttachRolePolicyCommand, CreateAccessKeyCommand, CreateOpenIDConnectProviderCommand, CreateRoleCommand, CreateUserCommand, IAMClient } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { CreateRepositoryCommand, GetAuthorizationTokenCommand, GetDownloadUrlForLayerCommand } from '@aws-sdk/client-ecr';
import { sha256, startEcrApp, type EcrTestApp } from '../ecr/helpers.ts';
import { startTestIssuer, type TestIssuer } from '../helpers/oidc-issuer.ts';
import { redactUrl } from '../../src/observability/logger.ts';

describe('secrets never reach the log', () => {
  let t: EcrTestApp;
  let issuer: TestIssuer;
  const lines: string[] = [];
  const secrets: string[] = [];
  const logged = (): string => lines.join('');

  before(async () => {
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    t = await startEcrApp({ logStream: stream });
    issuer = await startTestIssuer('/log');
  });
  after(async () => {
    await t.close();
    await issuer.close();
  });

  test('redactUrl keeps the path and the other parameters', () => {
    assert.equal(redactUrl('/v2/a/blobs/sha256:x?X-Berth-Download=abc.def&n=1'), '/v2/a/blobs/sha256:x?X-Berth-Download=[redacted]&n=1');
    assert.equal(redactUrl('/?Action=X&X-Amz-Security-Token=tok%2F&X-Amz-Signature=ff'), '/?Action=X&X-Amz-Security-Token=[redacted]&X-Amz-Signature=[redacted]');
    assert.equal(redactUrl('/v2/'), '/v2/');
  });

  test('keys, session tokens, ID tokens, login tokens and download grants are made and used; none is in the log', async () => {
    const A = t.app.boot.accountId;
    const root = { accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey };
    secrets.push(t.secretAccessKey);
    const iam = new IAMClient({ endpoint: t.url, region: 'us-east-1', credentials: root, maxAttempts: 1 });
    const u = await iam.send(new CreateUserCommand({ UserName: 'logged' }));
    const k = await iam.send(new CreateAccessKeyCommand({ UserName: 'logged' }));
    const userKey = { accessKeyId: k.AccessKey?.AccessKeyId ?? '', secretAccessKey: k.AccessKey?.SecretAccessKey ?? '' };
    secrets.push(userKey.secretAccessKey);
    const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: u.User?.Arn }, Action: 'sts:AssumeRole' }] });
    await iam.send(new CreateRoleCommand({ RoleName: 'logged-role', AssumeRolePolicyDocument: trust }));
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'logged-role', PolicyArn: 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess' }));
    const sts = new STSClient({ endpoint: t.url, region: 'us-east-1', credentials: userKey, maxAttempts: 1 });
    const s = await sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${A}:role/logged-role`, RoleSessionName: 'logs' }));
    const session = { accessKeyId: s.Credentials?.AccessKeyId ?? '', secretAccessKey: s.Credentials?.SecretAccessKey ?? '', sessionToken: s.Credentials?.SessionToken ?? '' };
    secrets.push(session.secretAccessKey, session.sessionToken);

    // The session signs an ECR call in a header, and a presigned one carrying the token in the query.
    const ecr = t.client(session);
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'logs/app' }));
    const u2 = new URL(t.url);
    const signer = new SignatureV4({ credentials: session, region: 'us-east-1', service: 'ecr', sha256: Hash.bind(null, 'sha256') });
    const body = '{}';
    const p = await signer.presign(
      new HttpRequest({ method: 'POST', protocol: 'http:', hostname: u2.hostname, port: Number(u2.port), path: '/', headers: { host: t.host, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AmazonEC2ContainerRegistry_V20150921.DescribeRepositories' }, body }),
      { expiresIn: 300, unhoistableHeaders: new Set(['x-amz-target']) },
    );
    const qs = new URLSearchParams();
    for (const [key, v] of Object.entries(p.query ?? {})) if (typeof v === 'string') qs.set(key, v);
    const sent: Record<string, string> = { ...p.headers };
    delete sent.host;
    assert.equal((await fetch(`${t.url}/?${qs.toString()}`, { method: 'POST', headers: sent, body })).status, 200);

    // A login token and a download grant, used on /v2/.
    const token = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData?.[0]?.authorizationToken ?? '';
    secrets.push(Buffer.from(token, 'base64').toString('utf8').slice('AWS:'.length));
    const blob = Buffer.from('logged blob');
    const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
    for (const b of [blob, config]) assert.equal((await t.fetch(`/v2/logs/app/blobs/uploads/?digest=${sha256(b)}`, { method: 'POST', body: b })).status, 201);
    const mt = 'application/vnd.oci.image.manifest.v1+json';
    const manifest = JSON.stringify({ schemaVersion: 2, mediaType: mt, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(blob), size: blob.length }] });
    assert.equal((await t.fetch('/v2/logs/app/manifests/v1', { method: 'PUT', body: manifest, headers: { 'content-type': mt } })).status, 201);
    assert.equal((await fetch(`${t.url}/v2/logs/app/blobs/${sha256(blob)}`, { headers: { authorization: `Basic ${token}` } })).status, 200);
    const url = (await ecr.send(new GetDownloadUrlForLayerCommand({ repositoryName: 'logs/app', layerDigest: sha256(blob) }))).downloadUrl ?? '';
    secrets.push(new URL(url).searchParams.get('X-Berth-Download') ?? 'missing');
    assert.equal((await fetch(url)).status, 200);

    // A web identity token.
    const provider = await iam.send(new CreateOpenIDConnectProviderCommand({ Url: issuer.url, ClientIDList: ['sts.amazonaws.com'] }));
    const wiTrust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Federated: provider.OpenIDConnectProviderArn }, Action: 'sts:AssumeRoleWithWebIdentity' }] });
    const wiRole = await iam.send(new CreateRoleCommand({ RoleName: 'logged-ci', AssumeRolePolicyDocument: wiTrust }));
    const idToken = await issuer.token({ sub: 'job', aud: 'sts.amazonaws.com' });
    secrets.push(idToken);
    const anon = new STSClient({ endpoint: t.url, region: 'us-east-1', maxAttempts: 1, credentials: { accessKeyId: 'unused', secretAccessKey: 'unused' }, signer: { sign: async (r) => r } });
    const wi = await anon.send(new AssumeRoleWithWebIdentityCommand({ RoleArn: wiRole.Role?.Arn ?? '', RoleSessionName: 'job', WebIdentityToken: idToken }));
    secrets.push(wi.Credentials?.SecretAccessKey ?? 'missing', wi.Credentials?.SessionToken ?? 'missing');
    for (const c of [iam, sts, ecr, anon]) c.destroy();

    const log = logged();
    assert.ok(lines.length > 10, 'the requests were logged');
    assert.match(log, /"op":"sts:AssumeRole"/);
    assert.match(log, /X-Amz-Security-Token=\[redacted\]/, 'the presigned request was logged, redacted');
    for (const secret of secrets) {
      assert.ok(secret.length >= 20, 'a real secret');
      assert.ok(!log.includes(secret), `a secret (${secret.slice(0, 6)}...) is in the log`);
      assert.ok(!log.includes(encodeURIComponent(secret)), `a secret (${secret.slice(0, 6)}..., URL-encoded) is in the log`);
    }
  });
});
