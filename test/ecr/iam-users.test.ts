// IAM users decided by their identity policies: AWS's managed policies of ECR grant what their
// names say on the API and on /v2/ alike, a group's policies apply to its members, resource ARNs in
// a policy scope it to some repositories, an explicit deny beats them all, and a user with no policy
// may do nothing. Refusals name the user, the action and the resource as AWS does.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BatchDeleteImageCommand, CreateRepositoryCommand, DeleteRepositoryCommand, DescribeImagesCommand, DescribeRepositoriesCommand, GetAuthorizationTokenCommand, ListTagsForResourceCommand, PutImageCommand, TagResourceCommand, UntagResourceCommand } from '@aws-sdk/client-ecr';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { addUser, refusal, sha256, startEcrApp, type EcrTestApp } from './helpers.ts';

const MT = 'application/vnd.oci.image.manifest.v1+json';
const managed = (name: string): string => `arn:aws:iam::aws:policy/${name}`;


describe('IAM users and their identity policies', () => {
  let t: EcrTestApp;
  let A: string;
  let manifest: string;
  let config: Buffer;

  const v2 = async (auth: string, method: string, path: string, body?: string | Buffer): Promise<{ status: number; code?: string; message?: string }> => {
    const r = await t.fetch(path, { method, headers: { authorization: auth, 'content-type': method === 'PUT' ? MT : 'application/octet-stream', accept: MT }, ...(body !== undefined ? { body } : {}) });
    const text = await r.text();
    const err = r.status >= 400 && text !== '' ? ((JSON.parse(text) as { errors: Array<{ code: string; message: string }> }).errors[0] ?? undefined) : undefined;
    return { status: r.status, ...(err !== undefined ? { code: err.code, message: err.message } : {}) };
  };
  const arn = (name: string): string => `arn:aws:ecr:us-east-1:${A}:repository/${name}`;

  before(async () => {
    t = await startEcrApp();
    A = t.app.boot.accountId;
    for (const name of ['team/app', 'ci/app']) await t.ecr.send(new CreateRepositoryCommand({ repositoryName: name }));
    config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
    for (const name of ['team/app', 'ci/app']) {
      const r = await t.fetch(`/v2/${name}/blobs/uploads/?digest=${sha256(config)}`, { method: 'POST', body: config });
      assert.equal(r.status, 201);
    }
    manifest = JSON.stringify({ schemaVersion: 2, mediaType: MT, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length }, layers: [] });
    const put = await t.fetch('/v2/team/app/manifests/v1', { method: 'PUT', body: manifest, headers: { 'content-type': MT } });
    assert.equal(put.status, 201);
  });
  after(async () => {
    await t.close();
  });

  test('AmazonEC2ContainerRegistryReadOnly: pulls and describes, cannot push; the refusal names the user', async () => {
    const u = await addUser(t, 'reader');
    await t.app.meta.iam.attach(A, 'user', 'reader', managed('AmazonEC2ContainerRegistryReadOnly'));
    assert.equal((await v2(u.auth, 'GET', '/v2/team/app/manifests/v1')).status, 200);
    assert.equal((await u.ecr.send(new DescribeImagesCommand({ repositoryName: 'team/app' }))).imageDetails?.length, 1);
    assert.equal((await u.ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData?.length, 1);
    const why = `User: ${u.arn} is not authorized to perform: ecr:PutImage on resource: ${arn('team/app')} because no identity-based policy allows the ecr:PutImage action`;
    assert.deepEqual(await v2(u.auth, 'PUT', '/v2/team/app/manifests/v2', manifest), { status: 403, code: 'DENIED', message: why });
    assert.deepEqual(await refusal(u.ecr.send(new PutImageCommand({ repositoryName: 'team/app', imageManifest: manifest, imageTag: 'v2' }))), { name: 'AccessDeniedException', message: why, status: 400 });
    assert.equal((await v2(t.auth, 'GET', '/v2/team/app/manifests/v2')).status, 404, 'nothing was stored');
  });

  test('AmazonEC2ContainerRegistryPowerUser: pushes, cannot delete images or the repository', async () => {
    const u = await addUser(t, 'pusher');
    await t.app.meta.iam.attach(A, 'user', 'pusher', managed('AmazonEC2ContainerRegistryPowerUser'));
    assert.equal((await v2(u.auth, 'PUT', '/v2/team/app/manifests/pushed', manifest)).status, 201);
    assert.equal((await refusal(u.ecr.send(new BatchDeleteImageCommand({ repositoryName: 'team/app', imageIds: [{ imageTag: 'pushed' }] })))).name, 'AccessDeniedException');
    assert.equal((await v2(u.auth, 'DELETE', `/v2/team/app/manifests/${sha256(manifest)}`)).status, 403);
    assert.equal((await refusal(u.ecr.send(new DeleteRepositoryCommand({ repositoryName: 'team/app', force: true })))).name, 'AccessDeniedException');
    assert.equal((await v2(t.auth, 'GET', '/v2/team/app/manifests/pushed')).status, 200, 'still there');
  });

  test('a push that would create its repository (CREATE_ON_PUSH) also needs ecr:CreateRepository', async () => {
    const u = await addUser(t, 'creator');
    await t.app.meta.iam.attach(A, 'user', 'creator', managed('AmazonEC2ContainerRegistryPowerUser'));
    // The ROOT template (made on first start) would create any repository; PowerUser may not.
    for (const [method, path] of [
      ['POST', '/v2/fresh/app/blobs/uploads/'],
      ['PUT', '/v2/fresh/app/manifests/v1'],
    ] as const) {
      const r = await v2(u.auth, method, path, method === 'PUT' ? manifest : undefined);
      assert.equal(r.status, 403, `${method} ${path}`);
      assert.equal(r.code, 'DENIED');
      assert.equal(r.message, `User: arn:aws:iam::${A}:user/creator is not authorized to perform: ecr:CreateRepository on resource: ${arn('fresh/app')} because no identity-based policy allows the ecr:CreateRepository action`);
    }
    assert.equal(await t.app.meta.repositories.get(A, 'fresh/app'), undefined, 'nothing created');
    await t.app.meta.iam.putInline(A, 'user', 'creator', 'create', JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:CreateRepository', Resource: arn('fresh/*') }] }));
    const blob = await t.fetch(`/v2/fresh/app/blobs/uploads/?digest=${sha256(config)}`, { method: 'POST', body: config, headers: { authorization: u.auth } });
    assert.equal(blob.status, 201);
    assert.equal((await v2(u.auth, 'PUT', '/v2/fresh/app/manifests/v1', manifest)).status, 201);
    assert.notEqual(await t.app.meta.repositories.get(A, 'fresh/app'), undefined);
  });

  test('a group\'s inline policy scoped to ci/* applies to its members; an inline deny beats a managed allow', async () => {
    const u = await addUser(t, 'builder');
    await t.app.meta.iam.create({ accountId: A, kind: 'group', name: 'ci', id: 'AGPAEXAMPLEGROUPCI01', path: '/', tags: [], createdAt: Date.now() });
    await t.app.meta.iam.addToGroup(A, 'ci', 'builder');
    await t.app.meta.iam.putInline(A, 'group', 'ci', 'PushCi', JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:*', Resource: `arn:aws:ecr:*:${A}:repository/ci/*` }] }));
    assert.equal((await v2(u.auth, 'PUT', '/v2/ci/app/manifests/built', manifest)).status, 201);
    const other = await v2(u.auth, 'PUT', '/v2/team/app/manifests/built', manifest);
    assert.equal(other.status, 403);
    assert.match(other.message ?? '', /because no identity-based policy allows the ecr:PutImage action$/);

    await t.app.meta.iam.attach(A, 'user', 'builder', managed('AmazonEC2ContainerRegistryFullAccess'));
    await t.app.meta.iam.putInline(A, 'user', 'builder', 'NoDeletes', JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'NoDeletes', Effect: 'Deny', Action: ['ecr:BatchDeleteImage', 'ecr:DeleteRepository'], Resource: '*' }] }));
    const del = await refusal(u.ecr.send(new BatchDeleteImageCommand({ repositoryName: 'ci/app', imageIds: [{ imageTag: 'built' }] })));
    assert.equal(del.message, `User: ${u.arn} is not authorized to perform: ecr:BatchDeleteImage on resource: ${arn('ci/app')} with an explicit deny in an identity-based policy`);
    assert.equal((await v2(u.auth, 'PUT', '/v2/team/app/manifests/built', manifest)).status, 201, 'full access now, apart from the deny');
  });

  test('a user with no policy may do nothing, not even get a login token', async () => {
    const u = await addUser(t, 'nobody');
    assert.equal((await v2(u.auth, 'GET', '/v2/team/app/manifests/v1')).status, 403);
    const r = await refusal(u.ecr.send(new GetAuthorizationTokenCommand({})));
    assert.equal(r.name, 'AccessDeniedException');
    assert.match(r.message, /^User: arn:aws:iam::\d{12}:user\/nobody is not authorized to perform: ecr:GetAuthorizationToken/);
  });

  test('condition keys of the request and the caller: aws:RequestTag, aws:TagKeys, aws:PrincipalTag, aws:userid, ${aws:username}', async () => {
    const iam = new IAMClient({ endpoint: t.url, region: 'us-east-1', credentials: { accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey }, maxAttempts: 1 });
    const created = await iam.send(new CreateUserCommand({ UserName: 'tagger', Tags: [{ Key: 'team', Value: 'blue' }] }));
    const key = await iam.send(new CreateAccessKeyCommand({ UserName: 'tagger' }));
    const ecr = t.client({ accessKeyId: key.AccessKey?.AccessKeyId ?? '', secretAccessKey: key.AccessKey?.SecretAccessKey ?? '' });
    const policy = {
      Version: '2012-10-17',
      Statement: [
        // Repositories may be created only tagged with the creator's own team.
        { Effect: 'Allow', Action: 'ecr:CreateRepository', Resource: '*', Condition: { StringEquals: { 'aws:RequestTag/team': '${aws:PrincipalTag/team}' } } },
        // Tags may be set and removed, but never the key "team".
        { Effect: 'Allow', Action: ['ecr:TagResource', 'ecr:UntagResource'], Resource: '*', Condition: { 'ForAllValues:StringNotEquals': { 'aws:TagKeys': ['team'] } } },
        // Only the user's own unique id may describe, and only repositories under its own name.
        { Effect: 'Allow', Action: 'ecr:DescribeRepositories', Resource: `arn:aws:ecr:us-east-1:${A}:repository/\${aws:username}/*`, Condition: { StringEquals: { 'aws:userid': created.User?.UserId ?? '' } } },
        { Effect: 'Allow', Action: 'ecr:ListTagsForResource', Resource: '*' },
      ],
    };
    await iam.send(new PutUserPolicyCommand({ UserName: 'tagger', PolicyName: 'conditions', PolicyDocument: JSON.stringify(policy) }));
    const before = await t.app.meta.repositories.list(A, { limit: 1000 });
    const untagged = await refusal(ecr.send(new CreateRepositoryCommand({ repositoryName: 'tagger/one' })));
    assert.equal(untagged.name, 'AccessDeniedException');
    const red = await refusal(ecr.send(new CreateRepositoryCommand({ repositoryName: 'tagger/one', tags: [{ Key: 'team', Value: 'red' }] })));
    assert.equal(red.name, 'AccessDeniedException');
    assert.deepEqual(await t.app.meta.repositories.list(A, { limit: 1000 }), before, 'nothing created');
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'tagger/one', tags: [{ Key: 'team', Value: 'blue' }] }));
    const repoArn = arn('tagger/one');
    await ecr.send(new TagResourceCommand({ resourceArn: repoArn, tags: [{ Key: 'cost-center', Value: '42' }] }));
    assert.equal((await refusal(ecr.send(new TagResourceCommand({ resourceArn: repoArn, tags: [{ Key: 'team', Value: 'red' }] })))).name, 'AccessDeniedException');
    assert.equal((await refusal(ecr.send(new UntagResourceCommand({ resourceArn: repoArn, tagKeys: ['team'] })))).name, 'AccessDeniedException');
    await ecr.send(new UntagResourceCommand({ resourceArn: repoArn, tagKeys: ['cost-center'] }));
    const tags = await ecr.send(new ListTagsForResourceCommand({ resourceArn: repoArn }));
    assert.deepEqual(tags.tags, [{ Key: 'team', Value: 'blue' }], 'the refused changes changed nothing');
    assert.equal((await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['tagger/one'] }))).repositories?.length, 1);
    assert.equal((await refusal(ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['team/app'] })))).name, 'AccessDeniedException');
    ecr.destroy();
    iam.destroy();
  });

  test('a user created under a path is that ARN everywhere: who it is, refusals, and resource policies naming it', async () => {
    const { SetRepositoryPolicyCommand } = await import('@aws-sdk/client-ecr');
    const { GetCallerIdentityCommand, STSClient } = await import('@aws-sdk/client-sts');
    const iam = new IAMClient({ endpoint: t.url, region: 'us-east-1', credentials: { accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey }, maxAttempts: 1 });
    await iam.send(new CreateUserCommand({ UserName: 'pathy', Path: '/team/' }));
    const k = await iam.send(new CreateAccessKeyCommand({ UserName: 'pathy' }));
    const creds = { accessKeyId: k.AccessKey?.AccessKeyId ?? '', secretAccessKey: k.AccessKey?.SecretAccessKey ?? '' };
    const want = `arn:aws:iam::${A}:user/team/pathy`;
    const sts = new STSClient({ endpoint: t.url, region: 'us-east-1', credentials: creds, maxAttempts: 1 });
    assert.equal((await sts.send(new GetCallerIdentityCommand({}))).Arn, want);
    const basic = `Basic ${Buffer.from(`${creds.accessKeyId}:${creds.secretAccessKey}`).toString('base64')}`;
    const denied = await v2(basic, 'GET', '/v2/team/app/manifests/v1');
    assert.equal(denied.status, 403);
    assert.match(denied.message ?? '', new RegExp(`^User: ${want} is not authorized`));
    await t.ecr.send(new SetRepositoryPolicyCommand({ repositoryName: 'team/app', policyText: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: want }, Action: 'ecr:BatchGetImage' }] }) }));
    assert.equal((await v2(basic, 'GET', '/v2/team/app/manifests/v1')).status, 200, 'the repository policy names the user by its ARN with the path');
    const ecr = t.client(creds);
    assert.match((await refusal(ecr.send(new DescribeRepositoriesCommand({})))).message, new RegExp(`^User: ${want} is not authorized`));
    ecr.destroy();
    sts.destroy();
    iam.destroy();
  });
});
