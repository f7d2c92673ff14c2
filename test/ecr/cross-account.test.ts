// Requests decided by the policy engine through repository and registry policies: another account
// is refused until the repository's policy (or the registry policy, with the V2 scope) grants it,
// and then only the actions granted; an explicit deny in a repository policy stops even the owning
// account's root, on the ECR API and on /v2/ alike, and nothing changes.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BatchDeleteImageCommand,
  BatchGetImageCommand,
  CreateRepositoryCommand,
  DeleteRegistryPolicyCommand,
  DeleteRepositoryPolicyCommand,
  DescribeImagesCommand,
  GetAuthorizationTokenCommand,
  GetDownloadUrlForLayerCommand,
  PutAccountSettingCommand,
  PutImageCommand,
  PutRegistryPolicyCommand,
  SetRepositoryPolicyCommand,
  TagResourceCommand,
  UntagResourceCommand,
  type ECRClient,
} from '@aws-sdk/client-ecr';
import { addAccount, refusal, sha256, startEcrApp, type EcrTestApp } from './helpers.ts';

const B = '444455556666';
const REPO = 'shared/app';
const OTHER_REPO = 'private/app';
const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';


async function pushImage(t: EcrTestApp, name: string, tag: string): Promise<{ digest: string; layer: string; manifest: string }> {
  const blob = async (data: Buffer): Promise<string> => {
    const digest = sha256(data);
    const r = await t.fetch(`/v2/${name}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: data, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(r.status, 201, await r.text());
    return digest;
  };
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, name }));
  const layerBytes = Buffer.from(`layer of ${name}`);
  const configDigest = await blob(config);
  const layer = await blob(layerBytes);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST_TYPE,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layer, size: layerBytes.length }],
  });
  const r = await t.fetch(`/v2/${name}/manifests/${tag}`, { method: 'PUT', body: manifest, headers: { 'content-type': MANIFEST_TYPE } });
  assert.equal(r.status, 201, await r.text());
  return { digest: sha256(manifest), layer, manifest };
}

describe('cross-account access and explicit denies through resource policies', () => {
  let t: EcrTestApp;
  let A: string;
  let b: { ecr: ECRClient; auth: string };
  let image: { digest: string; layer: string; manifest: string };
  const arn = (name: string): string => `arn:aws:ecr:us-east-1:${A}:repository/${name}`;
  const denied = (action: string, name: string, why: string): { name: string; message: string; status: number } => ({
    name: 'AccessDeniedException',
    message: `User: arn:aws:iam::${B}:root is not authorized to perform: ${action} on resource: ${arn(name)} ${why}`,
    status: 400,
  });

  before(async () => {
    t = await startEcrApp();
    A = t.app.boot.accountId;
    b = await addAccount(t, B);
    await t.ecr.send(new CreateRepositoryCommand({ repositoryName: REPO }));
    await t.ecr.send(new CreateRepositoryCommand({ repositoryName: OTHER_REPO }));
    image = await pushImage(t, REPO, 'v1');
    await pushImage(t, OTHER_REPO, 'v1');
  });
  after(async () => {
    await t.close();
  });

  test('another account is refused with no policy, then pulls exactly what the repository policy grants', async () => {
    const get = (): Promise<unknown> => b.ecr.send(new BatchGetImageCommand({ registryId: A, repositoryName: REPO, imageIds: [{ imageTag: 'v1' }] }));
    const noResourcePolicy = 'because no resource-based policy allows the ecr:BatchGetImage action';
    const r0 = await refusal(get());
    assert.equal(r0.name, 'AccessDeniedException');
    assert.equal(r0.message, denied('ecr:BatchGetImage', REPO, noResourcePolicy).message);

    await t.ecr.send(
      new SetRepositoryPolicyCommand({
        repositoryName: REPO,
        policyText: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Sid: 'AllowPull', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${B}:root` }, Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'] }],
        }),
      }),
    );
    const got = (await get()) as { images?: Array<{ imageManifest?: string }> };
    assert.equal(got.images?.[0]?.imageManifest, image.manifest);
    const url = await b.ecr.send(new GetDownloadUrlForLayerCommand({ registryId: A, repositoryName: REPO, layerDigest: image.layer }));
    const layer = await fetch(url.downloadUrl ?? '');
    assert.equal(layer.status, 200);
    assert.equal(sha256(Buffer.from(await layer.arrayBuffer())), image.layer);

    // Only what was granted: not DescribeImages, not PutImage, not another repository.
    const d = await refusal(b.ecr.send(new DescribeImagesCommand({ registryId: A, repositoryName: REPO })));
    assert.equal(d.message, denied('ecr:DescribeImages', REPO, 'because no resource-based policy allows the ecr:DescribeImages action').message);
    const p = await refusal(b.ecr.send(new PutImageCommand({ registryId: A, repositoryName: REPO, imageManifest: image.manifest, imageTag: 'from-b' })));
    assert.equal(p.name, 'AccessDeniedException');
    const o = await refusal(b.ecr.send(new BatchGetImageCommand({ registryId: A, repositoryName: OTHER_REPO, imageIds: [{ imageTag: 'v1' }] })));
    assert.equal(o.message, denied('ecr:BatchGetImage', OTHER_REPO, noResourcePolicy).message);
    const tags = (await t.ecr.send(new DescribeImagesCommand({ repositoryName: REPO }))).imageDetails?.flatMap((x) => x.imageTags ?? []);
    assert.deepEqual(tags, ['v1'], 'B pushed nothing');

    // A policy that names another principal of B does not grant B's root.
    await t.ecr.send(
      new SetRepositoryPolicyCommand({
        repositoryName: REPO,
        policyText: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${B}:user/ci` }, Action: 'ecr:BatchGetImage' }] }),
      }),
    );
    assert.equal((await refusal(get())).name, 'AccessDeniedException');
    await t.ecr.send(new DeleteRepositoryPolicyCommand({ repositoryName: REPO }));
    assert.equal((await refusal(get())).name, 'AccessDeniedException');
  });

  test('an explicit deny in the repository policy stops the owner on the API and on /v2/, and nothing is deleted', async () => {
    await t.ecr.send(
      new SetRepositoryPolicyCommand({
        repositoryName: REPO,
        policyText: JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'NoDeletes', Effect: 'Deny', Principal: '*', Action: 'ecr:BatchDeleteImage' }] }),
      }),
    );
    const why = `User: arn:aws:iam::${A}:root is not authorized to perform: ecr:BatchDeleteImage on resource: ${arn(REPO)} with an explicit deny in a resource-based policy`;
    const r = await refusal(t.ecr.send(new BatchDeleteImageCommand({ repositoryName: REPO, imageIds: [{ imageTag: 'v1' }] })));
    assert.deepEqual(r, { name: 'AccessDeniedException', message: why, status: 400 });
    const v2 = await t.fetch(`/v2/${REPO}/manifests/${image.digest}`, { method: 'DELETE' });
    assert.equal(v2.status, 403);
    const body = (await v2.json()) as { errors: Array<{ code: string; message: string }> };
    assert.equal(body.errors[0]?.code, 'DENIED');
    assert.equal(body.errors[0]?.message, why);
    // Reading is not denied, and the image is all there.
    const head = await t.fetch(`/v2/${REPO}/manifests/v1`, { method: 'HEAD', headers: { accept: MANIFEST_TYPE } });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('docker-content-digest'), image.digest);
    // The other repository has no such policy.
    await t.ecr.send(new CreateRepositoryCommand({ repositoryName: 'scratch/app' }));
    const scratch = await pushImage(t, 'scratch/app', 'x');
    const del = await t.ecr.send(new BatchDeleteImageCommand({ repositoryName: 'scratch/app', imageIds: [{ imageDigest: scratch.digest }] }));
    assert.equal(del.imageIds?.length, 1);
    // With the policy gone, the owner deletes again.
    await t.ecr.send(new DeleteRepositoryPolicyCommand({ repositoryName: REPO }));
    const ok = await t.ecr.send(new BatchDeleteImageCommand({ repositoryName: REPO, imageIds: [{ imageTag: 'v1' }] }));
    assert.deepEqual(ok.failures, []);
    image = await pushImage(t, REPO, 'v1');
  });

  test('the registry policy grants across every repository with the V2 scope, and not with V1', async () => {
    const describe = (name: string): Promise<unknown> => b.ecr.send(new DescribeImagesCommand({ registryId: A, repositoryName: name }));
    await t.ecr.send(
      new PutRegistryPolicyCommand({
        policyText: JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'Describe', Effect: 'Allow', Principal: { AWS: B }, Action: ['ecr:DescribeImages', 'ecr:CreateRepository'], Resource: `arn:aws:ecr:us-east-1:${A}:repository/*` }] }),
      }),
    );
    try {
      for (const name of [REPO, OTHER_REPO]) {
        const r = (await describe(name)) as { imageDetails?: unknown[] };
        assert.equal(r.imageDetails?.length, 1, name);
      }
      await t.ecr.send(new PutAccountSettingCommand({ name: 'REGISTRY_POLICY_SCOPE', value: 'V1' }));
      const r = await refusal(describe(REPO));
      assert.equal(r.message, denied('ecr:DescribeImages', REPO, 'because no resource-based policy allows the ecr:DescribeImages action').message);
    } finally {
      await t.ecr.send(new PutAccountSettingCommand({ name: 'REGISTRY_POLICY_SCOPE', value: 'V2' }));
      await t.ecr.send(new DeleteRegistryPolicyCommand({}));
    }
    assert.equal((await refusal(describe(REPO))).name, 'AccessDeniedException');
  });

  test('a push from another account that would create the repository needs ecr:CreateRepository from the registry policy', async () => {
    const token = await b.ecr.send(new GetAuthorizationTokenCommand({ registryIds: [A] }));
    const auth = `Basic ${token.authorizationData?.[0]?.authorizationToken ?? ''}`;
    const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
    const push = async (): Promise<Response> => await fetch(`${t.url}/v2/from-b/app/blobs/uploads/?digest=${sha256(config)}`, { method: 'POST', body: config, headers: { authorization: auth } });
    const statement = (actions: string[]): string =>
      JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${B}:root` }, Action: actions, Resource: `arn:aws:ecr:us-east-1:${A}:repository/from-b/*` }] });
    try {
      await t.ecr.send(new PutRegistryPolicyCommand({ policyText: statement(['ecr:InitiateLayerUpload', 'ecr:UploadLayerPart', 'ecr:CompleteLayerUpload', 'ecr:PutImage']) }));
      const r = await push();
      assert.equal(r.status, 403);
      const body = (await r.json()) as { errors: Array<{ code: string; message: string }> };
      assert.equal(body.errors[0]?.message, `User: arn:aws:iam::${B}:root is not authorized to perform: ecr:CreateRepository on resource: ${arn('from-b/app')} because no resource-based policy allows the ecr:CreateRepository action`);
      assert.equal(await t.app.meta.repositories.get(A, 'from-b/app'), undefined, 'nothing created');
      await t.ecr.send(new PutRegistryPolicyCommand({ policyText: statement(['ecr:InitiateLayerUpload', 'ecr:UploadLayerPart', 'ecr:CompleteLayerUpload', 'ecr:PutImage', 'ecr:CreateRepository']) }));
      assert.equal((await push()).status, 201);
      assert.notEqual(await t.app.meta.repositories.get(A, 'from-b/app'), undefined, 'created in A by the push');
    } finally {
      await t.ecr.send(new DeleteRegistryPolicyCommand({}));
    }
  });

  test('conditions see the request: aws:SourceIp, aws:SecureTransport, ecr:ResourceTag of the repository', async () => {
    const setPolicy = (statements: Array<Record<string, unknown>>): Promise<unknown> =>
      t.ecr.send(new SetRepositoryPolicyCommand({ repositoryName: REPO, policyText: JSON.stringify({ Version: '2012-10-17', Statement: statements }), force: true }));
    const pullV2 = async (): Promise<number> => {
      const r = await t.fetch(`/v2/${REPO}/manifests/v1`, { headers: { accept: MANIFEST_TYPE } });
      await r.arrayBuffer();
      return r.status;
    };
    const get = (): Promise<unknown> => b.ecr.send(new BatchGetImageCommand({ registryId: A, repositoryName: REPO, imageIds: [{ imageTag: 'v1' }] }));
    try {
      // Pulls only from an office network: the test client (127.0.0.1) is outside 10.0.0.0/8, inside 127.0.0.0/8.
      const outside = { Effect: 'Deny', Principal: '*', Action: 'ecr:BatchGetImage', Condition: { NotIpAddress: { 'aws:SourceIp': ['10.0.0.0/8'] } } };
      await setPolicy([outside]);
      assert.equal(await pullV2(), 403);
      const r = await refusal(t.ecr.send(new BatchGetImageCommand({ repositoryName: REPO, imageIds: [{ imageTag: 'v1' }] })));
      assert.match(r.message, /with an explicit deny in a resource-based policy$/);
      await setPolicy([{ ...outside, Condition: { NotIpAddress: { 'aws:SourceIp': ['127.0.0.0/8', '::1/128'] } } }]);
      assert.equal(await pullV2(), 200);
      // Plain HTTP is not secure transport.
      await setPolicy([{ Effect: 'Deny', Principal: '*', Action: 'ecr:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } }, Sid: 'TlsOnly' }]);
      assert.equal(await pullV2(), 403);
      assert.equal((await refusal(t.ecr.send(new DeleteRepositoryPolicyCommand({ repositoryName: REPO })))).name, 'AccessDeniedException', 'its own removal too');
    } finally {
      // The TLS-only policy denies its own removal over plain HTTP: the test takes it away in storage.
      const repo = await t.app.meta.repositories.get(A, REPO);
      assert.ok(repo !== undefined);
      await t.app.meta.repositories.putPolicyText(repo.id, 'repository', null, Date.now());
    }
    assert.equal(await pullV2(), 200);
    // Another account pulls the repositories tagged shared=yes.
    await setPolicy([{ Effect: 'Allow', Principal: { AWS: B }, Action: 'ecr:BatchGetImage', Condition: { StringEquals: { 'ecr:ResourceTag/shared': 'yes' } } }]);
    assert.equal((await refusal(get())).name, 'AccessDeniedException');
    await t.ecr.send(new TagResourceCommand({ resourceArn: arn(REPO), tags: [{ Key: 'shared', Value: 'yes' }] }));
    assert.equal(((await get()) as { images?: unknown[] }).images?.length, 1);
    await t.ecr.send(new UntagResourceCommand({ resourceArn: arn(REPO), tagKeys: ['shared'] }));
    assert.equal((await refusal(get())).name, 'AccessDeniedException');
    await t.ecr.send(new DeleteRepositoryPolicyCommand({ repositoryName: REPO }));
  });
});
